// Types for verify.mjs (so TypeScript code, such as idport's tests, can import it).
import type { JWTPayload, JWTVerifyGetKey, ProtectedHeaderParameters } from 'jose';

export declare class BearerError extends Error {
  constructor(status: 400 | 401 | 403, error: string | undefined, description: string, scope?: string);
  readonly status: 400 | 401 | 403;
  readonly error: string | undefined;
  readonly description: string;
  readonly scope: string | undefined;
}

export declare function isLoopbackHttp(url: string | URL): boolean;
export declare function discoverJwksUri(issuer: string, options?: { timeoutMs?: number }): Promise<string>;
export declare function bearerToken(authorization: string | undefined): string;
export declare function accessToken(authorization: string | undefined): { scheme: 'bearer' | 'dpop'; token: string };

/** How a token came: the Authorization scheme, the DPoP header, the request's method and full URL. */
export interface DpopRequest {
  scheme: 'bearer' | 'dpop';
  proof: string | undefined;
  method: string;
  url: string;
}

export declare function checkDpopProof(input: { proof: string | undefined; method: string; url: string; token: string; jkt: string; seen: Map<string, number> }): Promise<void>;

export interface VerifiedAccessToken {
  claims: JWTPayload & { scope?: string; client_id?: string };
  scopes: string[];
  header: ProtectedHeaderParameters;
}

export type VerifyAccessToken = (token: string, options?: { requiredScopes?: string[]; dpop?: DpopRequest }) => Promise<VerifiedAccessToken>;

export declare function createVerifier(options: {
  issuer: string;
  audience: string;
  jwksUri?: string;
  keys?: JWTVerifyGetKey;
  algorithms?: string[];
  clockTolerance?: number;
}): VerifyAccessToken;

export declare function challenge(err: BearerError, realm?: string): string;
