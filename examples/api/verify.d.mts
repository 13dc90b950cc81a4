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

export interface VerifiedAccessToken {
  claims: JWTPayload & { scope?: string; client_id?: string };
  scopes: string[];
  header: ProtectedHeaderParameters;
}

export type VerifyAccessToken = (token: string, options?: { requiredScopes?: string[] }) => Promise<VerifiedAccessToken>;

export declare function createVerifier(options: {
  issuer: string;
  audience: string;
  jwksUri?: string;
  keys?: JWTVerifyGetKey;
  algorithms?: string[];
  clockTolerance?: number;
}): VerifyAccessToken;

export declare function challenge(err: BearerError, realm?: string): string;
