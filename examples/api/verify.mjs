/* global fetch, AbortSignal */
// Verifying idport's access tokens on your own: RFC 9068 JWTs checked against idport's published
// keys (JWKS), with no call to idport per request. Used by server.mjs; import it in your own API.
import { createHash } from 'node:crypto';

import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, errors as joseErrors, jwtVerify } from 'jose';

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
 * The access token and its scheme from an Authorization header: `Bearer <token>` (RFC 6750 §2.1)
 * or `DPoP <token>` (RFC 9449 §7.1). No header: 401 with no error code; a malformed one: 400.
 *
 * @returns {{ scheme: 'bearer' | 'dpop', token: string }}
 */
export function accessToken(authorization) {
  if (authorization === undefined || authorization === '') {
    throw new BearerError(401, undefined, 'send an access token: Authorization: Bearer <token> (or DPoP <token> with a DPoP proof)');
  }
  const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization);
  if (!match) throw new BearerError(400, 'invalid_request', 'the Authorization header must be "Bearer <token>" or "DPoP <token>"');
  return { scheme: match[1].toLowerCase() === 'dpop' ? 'dpop' : 'bearer', token: match[2] };
}

/** How long a DPoP proof is accepted after its `iat` (and before it, for clock skew), in seconds. */
const proofWindow = 60;

/**
 * Checks a DPoP proof (RFC 9449 §4.3) for a request with a DPoP-bound token: a `dpop+jwt` signed
 * by the public key in its header, for this method and URL (`htm`, `htu` without query and
 * fragment), made within the last minute, for this very token (`ath`), by the key the token is
 * bound to (`cnf.jkt`), and never seen before (`jti`, remembered until it would be too old anyway).
 * Throws BearerError 401 invalid_dpop_proof / invalid_token.
 *
 * @param {{ proof: string | undefined, method: string, url: string, token: string, jkt: string, seen: Map<string, number> }} input
 */
export async function checkDpopProof({ proof, method, url, token, jkt, seen }) {
  if (!proof) throw new BearerError(401, 'invalid_dpop_proof', 'a DPoP-bound token needs a DPoP proof header');
  let verified;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'], requiredClaims: ['jti', 'htm', 'htu', 'iat', 'ath'] });
  } catch {
    throw new BearerError(401, 'invalid_dpop_proof', 'the DPoP proof is malformed or its signature is invalid');
  }
  const { payload, protectedHeader } = verified;
  const target = new URL(url);
  target.search = '';
  target.hash = '';
  const now = Math.floor(Date.now() / 1000);
  if (payload.htm !== method || payload.htu !== target.href) throw new BearerError(401, 'invalid_dpop_proof', 'the DPoP proof is for another request');
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > proofWindow) throw new BearerError(401, 'invalid_dpop_proof', 'the DPoP proof is too old (or from the future)');
  if (payload.ath !== createHash('sha256').update(token).digest('base64url')) throw new BearerError(401, 'invalid_dpop_proof', 'the DPoP proof is for another access token');
  if ((await calculateJwkThumbprint(protectedHeader.jwk)) !== jkt) throw new BearerError(401, 'invalid_token', 'the access token is bound to another key');
  for (const [id, until] of seen) if (until < now) seen.delete(id);
  if (seen.has(String(payload.jti))) throw new BearerError(401, 'invalid_dpop_proof', 'this DPoP proof was used already');
  seen.set(String(payload.jti), payload.iat + proofWindow);
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
   * @param {{ requiredScopes?: string[], dpop?: { scheme: 'bearer' | 'dpop', proof: string | undefined, method: string, url: string } }} [options]
   *   dpop: how the token came (the Authorization scheme, the DPoP header, the request's method and full URL);
   *   without it, DPoP-bound tokens are refused
   * @returns {Promise<{ claims: Record<string, unknown>, scopes: string[], header: Record<string, unknown> }>}
   * @throws {BearerError}
   */
  /** DPoP proof ids already used, with when each stops mattering (one process: use a shared store across several) */
  const seen = new Map();
  return async function verifyAccessToken(token, { requiredScopes = [], dpop } = {}) {
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
    // A DPoP-bound token (RFC 9449 §6: cnf.jkt) is only good with a proof of its key.
    const jkt = typeof payload.cnf === 'object' && payload.cnf !== null ? payload.cnf.jkt : undefined;
    if (jkt !== undefined) {
      // RFC 9449 §7.2: never as a bearer token, even with a DPoP header alongside
      if (dpop?.scheme !== 'dpop') throw new BearerError(401, 'invalid_token', 'this access token is DPoP-bound: send it as "Authorization: DPoP <token>" with a DPoP proof');
      await checkDpopProof({ ...dpop, token, jkt: String(jkt), seen });
    } else if (dpop?.scheme === 'dpop') {
      throw new BearerError(401, 'invalid_token', 'this access token is not DPoP-bound: send it as "Authorization: Bearer <token>"');
    }
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
  // RFC 9449 §7.1: a proof problem is answered in the DPoP scheme, with the algorithms we take
  if (err.error === 'invalid_dpop_proof') return `DPoP ${[...parts, `algs=${q('ES256 EdDSA RS256 PS256')}`].join(', ')}`;
  return `Bearer ${parts.join(', ')}`;
}
