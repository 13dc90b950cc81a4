// Types for device.mjs.
import type { IDToken, TokenEndpointResponse, TokenEndpointResponseHelpers } from 'openid-client';

export declare function isLoopbackHttp(url: string | URL): boolean;

export declare function run(options: {
  issuer?: string;
  clientId: string;
  apiAudience?: string;
  apiUrl?: string;
  scope?: string;
  print?: (line: string) => void;
  signal?: AbortSignal;
}): Promise<{
  claims: IDToken | undefined;
  tokens: TokenEndpointResponse & TokenEndpointResponseHelpers;
  api?: { status: number; body: unknown };
}>;
