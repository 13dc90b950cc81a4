// Back-Channel Logout 1.0 §2.6: how a relying party validates a Logout Token before it ends
// any session. Used by server.mjs's POST /backchannel-logout.
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

export const backchannelLogoutEvent = 'http://schemas.openid.net/event/backchannel-logout';

/** Thrown for a token that must be refused: the endpoint answers 400 with this as error_description. */
export class LogoutTokenError extends Error {}

/**
 * A validator for one client: `validate(token)` resolves with the token's claims, or rejects with
 * LogoutTokenError. Checks, in order: signature with one of the issuer's keys (asymmetric
 * algorithms only, never `none` or a MAC), `typ` logout+jwt when a typ is present, iss, aud = our
 * client_id, iat and exp (with 30 s of clock skew), `events` holding the back-channel logout
 * event with a JSON object, no `nonce` (an ID token is not a logout token), `sid` or `sub`, and a
 * `jti` never seen before (remembered until the token expires).
 *
 * @param {{ issuer: string, clientId: string, jwksUri: string | URL, maxAgeSeconds?: number }} options
 */
export function createLogoutTokenValidator({ issuer, clientId, jwksUri, maxAgeSeconds = 300 }) {
  const jwks = createRemoteJWKSet(new URL(jwksUri));
  /** jti → when it may be forgotten (epoch ms) */
  const seen = new Map();

  const forgetOld = (now) => {
    for (const [jti, until] of seen) if (until < now) seen.delete(jti);
  };

  async function verify(token) {
    try {
      return await jwtVerify(token, jwks, {
        issuer,
        audience: clientId,
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'],
        requiredClaims: ['iat', 'exp', 'jti', 'events'],
        clockTolerance: 30,
        maxTokenAge: `${maxAgeSeconds}s`,
      });
    } catch (err) {
      if (err instanceof errors.JOSEError) throw new LogoutTokenError(`logout token rejected: ${err.code}: ${err.message}`);
      throw err;
    }
  }

  return {
    async validate(token) {
      if (typeof token !== 'string' || !token) throw new LogoutTokenError('logout_token is missing');
      const { payload, protectedHeader } = await verify(token);
      if (protectedHeader.typ !== undefined && !/^(application\/)?logout\+jwt$/i.test(protectedHeader.typ)) {
        throw new LogoutTokenError(`typ ${protectedHeader.typ} is not logout+jwt`);
      }
      const event = payload.events?.[backchannelLogoutEvent];
      if (!event || typeof event !== 'object' || Array.isArray(event)) throw new LogoutTokenError('events does not hold the back-channel logout event');
      if ('nonce' in payload) throw new LogoutTokenError('a logout token must not have a nonce');
      const hasSid = typeof payload.sid === 'string' && payload.sid.length > 0;
      const hasSub = typeof payload.sub === 'string' && payload.sub.length > 0;
      if (!hasSid && !hasSub) throw new LogoutTokenError('a logout token needs sid or sub');
      if (typeof payload.jti !== 'string' || !payload.jti) throw new LogoutTokenError('jti must be a string');
      const now = Date.now();
      forgetOld(now);
      if (seen.has(payload.jti)) throw new LogoutTokenError('this logout token was already used (jti seen before)');
      seen.set(payload.jti, (payload.exp + 30) * 1000);
      return payload;
    },
  };
}
