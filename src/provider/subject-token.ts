import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import type Provider from 'oidc-provider';
import type { FindAccount, KoaContextWithOIDC } from 'oidc-provider';

import { badSubject, parseActor, type Refusal, type SubjectToken } from '../tokens/exchange-policy.js';

const privateMembers = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']);
/** JWT access tokens are ES256 (resources.ts); nothing else signed by idport is one. */
const jwtAccessTokenAlgs = ['ES256'];

const looksLikeJwt = (value: string) => value.split('.').length === 3;
const scopesOf = (scope: unknown) => (typeof scope === 'string' && scope ? scope.split(' ') : []);

interface StoredAccessToken {
  accountId?: string;
  clientId?: string;
  aud?: string | string[];
  scope?: string;
  exp?: number;
  grantId?: string;
  jkt?: string;
  extra?: { act?: unknown };
  isValid: boolean;
}

/**
 * Reads an RFC 8693 subject token: an access token for a user that this provider issued and that
 * is still good. Opaque tokens are looked up in the store (with their grant, as introspection does:
 * a revoked grant or an ended session means no token); JWT access tokens are verified against our
 * own signing keys (typ at+jwt, ES256, our issuer, not expired). Returns the token, or why it is
 * refused (RFC 8693 §2.2.2: invalid_request).
 */
export function createSubjectTokenReader(provider: Provider, jwks: { keys: JWK[] }, findAccount: FindAccount) {
  const publicKeys = createLocalJWKSet({
    keys: jwks.keys.map((key) => Object.fromEntries(Object.entries(key).filter(([member]) => !privateMembers.has(member))) as JWK),
  });

  /** The user must still exist (an account deleted since the token was issued has no tokens). */
  const accountExists = async (ctx: KoaContextWithOIDC, accountId: string) => Boolean(await findAccount(ctx, accountId));

  async function opaque(value: string): Promise<SubjectToken | Refusal> {
    const token = (await provider.AccessToken.find(value)) as unknown as StoredAccessToken | undefined;
    if (!token?.isValid) return badSubject('the subject token is not an active access token (unknown, expired or revoked)');
    if (!token.accountId || !token.clientId) return badSubject('the subject token was not issued for a user');
    if (token.grantId) {
      const grant = await provider.Grant.find(token.grantId);
      if (!grant || grant.isExpired || grant.clientId !== token.clientId || grant.accountId !== token.accountId) {
        return badSubject('the subject token is not an active access token (its grant was revoked)');
      }
    }
    const audience = Array.isArray(token.aud) ? token.aud[0] : token.aud;
    if (!audience) return badSubject('the subject token is not for an API (it has no audience)');
    const act = token.extra?.act === undefined ? undefined : parseActor(token.extra.act);
    if (token.extra?.act !== undefined && !act) return badSubject('the subject token has a malformed act claim');
    return { format: 'opaque', accountId: token.accountId, clientId: token.clientId, audience, scopes: scopesOf(token.scope), exp: token.exp!, act, grantId: token.grantId, jkt: token.jkt };
  }

  async function jwt(value: string): Promise<SubjectToken | Refusal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(value, publicKeys, { issuer: provider.issuer, typ: 'at+jwt', algorithms: jwtAccessTokenAlgs, requiredClaims: ['exp', 'sub', 'client_id', 'aud'] }));
    } catch {
      return badSubject('the subject token is not a valid access token from this issuer (signature, type or expiry)');
    }
    const { sub, client_id: clientId, aud, scope, exp, act: rawAct, cnf } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof exp !== 'number') return badSubject('the subject token lacks sub, client_id or exp');
    // A client credentials token names the client as its subject: there is no user to act for.
    if (sub === clientId) return badSubject('the subject token was not issued for a user');
    const audience = Array.isArray(aud) ? aud[0] : aud;
    if (typeof audience !== 'string') return badSubject('the subject token is not for an API (it has no audience)');
    const act = rawAct === undefined ? undefined : parseActor(rawAct);
    if (rawAct !== undefined && !act) return badSubject('the subject token has a malformed act claim');
    const jkt = (cnf as { jkt?: unknown } | undefined)?.jkt;
    return { format: 'jwt', accountId: sub, clientId, audience, scopes: scopesOf(scope), exp, act, jkt: typeof jkt === 'string' ? jkt : undefined };
  }

  return async function readSubjectToken(ctx: KoaContextWithOIDC, value: string): Promise<SubjectToken | Refusal> {
    const found = looksLikeJwt(value) ? await jwt(value) : await opaque(value);
    if ('error' in found) return found;
    if (!(await accountExists(ctx, found.accountId))) return badSubject('the subject token\'s user no longer exists');
    return found;
  };
}

export type ReadSubjectToken = ReturnType<typeof createSubjectTokenReader>;
