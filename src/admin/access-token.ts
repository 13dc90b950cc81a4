import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK, type JWTPayload } from 'jose';

import type { CounterStore } from '../storage/types.js';
import { adminAudience } from './admin-api.js';
import { checkDpopProof, DpopProofError } from './dpop-proof.js';
import { Problem } from './problem.js';

/** Who is calling: the client whose client_credentials token this is, and what it may do. */
export interface AdminCaller {
  clientId: string;
  scopes: ReadonlySet<string>;
  /** the token's jti (for audit lines; never the token) */
  jti: string | undefined;
  dpop: boolean;
}

export interface AdminRequest {
  method: string;
  /** the URL as the client addressed it (for the DPoP proof's htu) */
  url: string;
  authorization: string | undefined;
  dpopProof: string | undefined;
}

const realm = 'idport-admin';
const quoted = (v: string) => `"${v.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;

/** 401/403 with the challenges of RFC 6750 §3 and RFC 9449 §7.1. */
function refuse(status: 401 | 403, error: string | undefined, detail: string, scope?: string): Problem {
  const params = [`realm=${quoted(realm)}`, ...(error ? [`error=${quoted(error)}`, `error_description=${quoted(detail)}`] : []), ...(scope ? [`scope=${quoted(scope)}`] : [])];
  const challenge = `Bearer ${params.join(', ')}, DPoP ${params.join(', ')}, algs="ES256 ES384 EdDSA RS256 PS256"`;
  return new Problem(status, status === 401 ? 'Unauthorized' : 'Forbidden', detail, { type: error ? `urn:ietf:params:oauth:error:${error}` : 'about:blank' }, { 'www-authenticate': challenge });
}

const privateMembers = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);
const publicJwk = (jwk: JWK): JWK => Object.fromEntries(Object.entries(jwk).filter(([name]) => !privateMembers.has(name))) as JWK;

function reason(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the access token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `the access token's ${err.claim} claim is not acceptable`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'the access token was not signed by a key of this issuer';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the access token signature is invalid';
  return 'the access token is not a JWT access token of this issuer';
}

/**
 * The admin API's door: an RFC 9068 JWT access token of this issuer for `{issuer}/admin`, issued
 * to a client by client_credentials (its `sub` is the client), sent as Bearer — or as DPoP with a
 * fresh proof when the token is DPoP-bound (`cnf.jkt`; a bound token sent as Bearer is refused).
 * Verified statelessly against our own keys (retired ones included, until they are unpublished).
 */
export function createAdminTokens({ issuer, jwks, counters }: { issuer: string; jwks: () => { keys: JWK[] }; counters: CounterStore }) {
  const audience = adminAudience(issuer);
  let cached: { source: { keys: JWK[] }; keySet: ReturnType<typeof createLocalJWKSet> } | undefined;
  const keySet = () => {
    const source = jwks();
    if (cached?.source !== source) cached = { source, keySet: createLocalJWKSet({ keys: source.keys.map(publicJwk) }) };
    return cached.keySet;
  };

  return async function authenticate(req: AdminRequest, requiredScope: string): Promise<AdminCaller> {
    if (!req.authorization) throw refuse(401, undefined, 'send an admin access token: Authorization: Bearer <token> (or DPoP <token>)');
    const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.authorization);
    if (!match) throw refuse(401, 'invalid_request', 'the Authorization header must be "Bearer <token>" or "DPoP <token>"');
    const scheme = match[1]!.toLowerCase();
    const token = match[2]!;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet(), { issuer, audience, typ: 'at+jwt', algorithms: ['ES256', 'RS256'], requiredClaims: ['exp', 'client_id', 'sub'] }));
    } catch (err) {
      throw refuse(401, 'invalid_token', reason(err));
    }
    const clientId = String(payload.client_id);
    if (payload.sub !== clientId) throw refuse(401, 'invalid_token', 'admin access tokens are for clients (client_credentials), not for users');
    const jkt = (payload.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (typeof jkt === 'string') {
      if (scheme !== 'dpop') throw refuse(401, 'invalid_token', 'this access token is DPoP-bound: send it as "Authorization: DPoP <token>" with a DPoP proof');
      try {
        await checkDpopProof(counters, { proof: req.dpopProof, method: req.method, url: req.url, token, jkt });
      } catch (err) {
        if (err instanceof DpopProofError) throw refuse(401, err.error, err.message);
        throw err;
      }
    } else if (scheme === 'dpop') {
      throw refuse(401, 'invalid_token', 'this access token is not DPoP-bound: send it as "Authorization: Bearer <token>"');
    }
    const scopes = new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []);
    if (!scopes.has(requiredScope)) throw refuse(403, 'insufficient_scope', `this request needs the scope ${requiredScope}`, requiredScope);
    return { clientId, scopes, jti: typeof payload.jti === 'string' ? payload.jti : undefined, dpop: typeof jkt === 'string' };
  };
}

export type AdminTokens = ReturnType<typeof createAdminTokens>;
