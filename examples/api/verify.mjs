/* global fetch, AbortSignal */
// Verifying idport's access tokens on your own: RFC 9068 JWTs checked against idport's published
// keys (JWKS), with no call to idport per request. Used by server.mjs; import it in your own API.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';

/** An RFC 6750 error: `status` 400, 401 or 403, `error` the code for the WWW-Authenticate header. */
export class BearerError extends Error {
  /**
   * @param {400 | 401 | 403} status
   * @param {string | undefined} error  invalid_request, invalid_token, insufficient_scope (none when no token was sent)
   * @param {string} description
   * @param {string} [scope]  for insufficient_scope: the scopes the request needs
   */
  constructor(status, error, description, scope) {
    super(description);
    this.name = 'BearerError';
    this.status = status;
    this.error = error;
    this.description = description;
    this.scope = scope;
  }
}

/** Plain http is fine only for an issuer on this machine (development). */
export function isLoopbackHttp(url) {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

/**
 * Reads the issuer's discovery document once (at start) and returns its `jwks_uri`.
 * Refuses plain http unless the issuer is on loopback, and a document for another issuer.
 */
export async function discoverJwksUri(issuer, { timeoutMs = 5000 } = {}) {
  const base = new URL(issuer);
  if (base.protocol !== 'https:' && !isLoopbackHttp(base)) {
    throw new Error(`ISSUER must use https (plain http only on localhost): ${issuer}`);
  }
  const wellKnown = new URL(`${base.pathname.replace(/\/$/, '')}/.well-known/openid-configuration`, base);
  let res;
  try {
    res = await fetch(wellKnown, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`cannot reach ${wellKnown.href} (${err.cause?.code ?? err.message}); is idport running at ${issuer}?`);
  }
  if (!res.ok) throw new Error(`discovery at ${wellKnown.href} answered ${res.status}`);
  const metadata = await res.json();
  if (metadata.issuer !== issuer) throw new Error(`discovery names issuer ${metadata.issuer}, expected ${issuer}`);
  if (typeof metadata.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
  const jwksUri = new URL(metadata.jwks_uri);
  if (jwksUri.protocol !== 'https:' && !isLoopbackHttp(jwksUri)) throw new Error(`jwks_uri must use https: ${jwksUri.href}`);
  return jwksUri.href;
}

/**
 * The bearer token from an Authorization header (RFC 6750 §2.1).
 * No header: 401 with no error code (§3.1); a malformed one: 400 invalid_request.
 */
export function bearerToken(authorization) {
  if (authorization === undefined || authorization === '') {
    throw new BearerError(401, undefined, 'send an access token: Authorization: Bearer <token>');
  }
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization);
  if (!match) throw new BearerError(400, 'invalid_request', 'the Authorization header must be "Bearer <token>"');
  return match[1];
}

/** Why jose refused a token, in words safe to send back (no token contents). */
function reason(err) {
  if (err instanceof joseErrors.JWTExpired) return 'the access token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `the access token's ${err.claim} claim is not acceptable`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'the access token was not signed by a key of the issuer';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the access token signature is invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the access token uses a signing algorithm this API does not accept';
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) return 'the access token is malformed';
  return 'the access token is invalid';
}

/**
 * A verifier for one API (audience). Each call checks, on its own:
 * - the signature, with a key from the issuer's JWKS (fetched once and cached by jose; fetched
 *   again only for an unknown key id, at most every 30 s) and an allowed algorithm;
 * - the header `typ: at+jwt` (RFC 9068 §4: never accept an ID token as an access token);
 * - `iss`, `aud`, `exp` (and `nbf` if present), and the presence of `sub`, `client_id`, `iat`, `jti`;
 * - that the token's `scope` holds every scope in `requiredScopes` (else 403 insufficient_scope).
 *
 * @param {object} options
 * @param {string} options.issuer            e.g. http://localhost:3000 (exactly as in the tokens)
 * @param {string} options.audience          this API's identifier, e.g. https://api.example.com
 * @param {string} [options.jwksUri]         from discoverJwksUri(issuer)
 * @param {Function} [options.keys]          a jose key set (instead of jwksUri), e.g. createLocalJWKSet(...)
 * @param {string[]} [options.algorithms]    accepted algorithms (idport signs access tokens ES256)
 * @param {number} [options.clockTolerance]  seconds of clock skew allowed for exp/nbf/iat
 */
export function createVerifier({ issuer, audience, jwksUri, keys, algorithms = ['ES256'], clockTolerance = 0 }) {
  if (!issuer || !audience) throw new Error('createVerifier needs issuer and audience');
  if (!keys && !jwksUri) throw new Error('createVerifier needs jwksUri (or keys)');
  const keySet = keys ?? createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000 });

  /**
   * @param {string} token  the bearer token
   * @param {{ requiredScopes?: string[] }} [options]
   * @returns {Promise<{ claims: Record<string, unknown>, scopes: string[], header: Record<string, unknown> }>}
   * @throws {BearerError}
   */
  return async function verifyAccessToken(token, { requiredScopes = [] } = {}) {
    let verified;
    try {
      verified = await jwtVerify(token, keySet, {
        issuer,
        audience,
        typ: 'at+jwt',
        algorithms,
        clockTolerance,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'],
      });
    } catch (err) {
      throw new BearerError(401, 'invalid_token', reason(err));
    }
    const { payload, protectedHeader } = verified;
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    const missing = requiredScopes.filter((s) => !scopes.includes(s));
    if (missing.length) {
      throw new BearerError(403, 'insufficient_scope', `this request needs the scope ${missing.join(' ')}`, requiredScopes.join(' '));
    }
    return { claims: payload, scopes, header: protectedHeader };
  };
}

/** The WWW-Authenticate header for a BearerError (RFC 6750 §3). */
export function challenge(err, realm = 'example-api') {
  // quoted-string values may not hold " or \ (RFC 6750 §3): drop anything outside the allowed set
  const q = (v) => `"${String(v).replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;
  const parts = [`realm=${q(realm)}`];
  if (err.error) parts.push(`error=${q(err.error)}`, `error_description=${q(err.description)}`);
  if (err.scope) parts.push(`scope=${q(err.scope)}`);
  return `Bearer ${parts.join(', ')}`;
}
