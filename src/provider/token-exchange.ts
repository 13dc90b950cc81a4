import { randomBytes } from 'node:crypto';

import type { JWK } from 'jose';
import Provider, { type Configuration, type FindAccount } from 'oidc-provider';
import validateDpop, { checkDpopReplay } from 'oidc-provider/lib/helpers/validate_dpop.js';

import { defaultAudience } from '../clients/client-access.js';
import { tokenExchangeGrant } from '../clients/client-policy.js';
import {
  accessTokenType,
  actorOf,
  badSubject,
  checkExchangeParams,
  lifetimeOf,
  mayExchange,
  narrowScopes,
  targetOf,
  type Actor,
  type ExchangingClient,
  type SubjectToken,
} from '../tokens/exchange-policy.js';
import { clientValue } from './client-metadata.js';
import { accept, refuseIf, unauthorizedClientForTokenExchange } from './exchange-errors.js';
import { createSubjectTokenReader } from './subject-token.js';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;
type ResourceServerInfo = NonNullable<ResourceIndicators['getResourceServerInfo']>;
type GrantContext = Parameters<Parameters<Provider['registerGrantType']>[1]>[0];
type Client = GrantContext['oidc']['client'];

/** What the provider's token event listeners (audit-events.ts) hear about each exchange. */
export interface ExchangeEvent {
  client_id: string;
  actor: string;
  subject_client_id: string;
  subject_audience: string;
  audience: string;
  scope: string;
  act: Actor | undefined;
  impersonation: boolean;
  dpop: boolean;
  grant_id: string;
}

const parameters = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'resource', 'audience', 'scope'];

/** The `act` claim of each access token an exchange mints, for the extraTokenClaims hook. */
const actOf = new WeakMap<object, Actor>();

/**
 * The claims an exchanged access token carries beyond oidc-provider's own (`act`), for the
 * extraTokenClaims hook: they go into RFC 9068 JWTs and introspection answers alike.
 */
export const exchangeClaims = (token: object): { act: Actor } | undefined => {
  const act = actOf.get(token);
  return act ? { act } : undefined;
};

const exchanging = (client: Client): ExchangingClient => {
  const serves = clientValue(client, 'introspect_for');
  return {
    clientId: client.clientId,
    serves: Array.isArray(serves) ? (serves as string[]) : [],
    isPublic: client.clientAuthMethod === 'none',
    impersonates: clientValue(client, 'allow_impersonation') === true,
  };
};

export interface TokenExchangeDeps {
  getResourceServerInfo: ResourceServerInfo;
  jwks: { keys: JWK[] };
  findAccount: FindAccount;
}

/**
 * RFC 8693 token exchange (`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`), which
 * oidc-provider lacks, registered as a grant of its token endpoint. The rules (who may exchange
 * which token, the scopes, `act`) are in src/tokens/exchange-policy.ts; this applies them:
 *
 * - the target API's rules are those of every other access token (resources.ts: the client must
 *   be allowed the API, invalid_target otherwise) and its format (opaque or RFC 9068 JWT);
 * - the new token is for the same user, lives no longer than the subject token, carries `act`
 *   (unless the client impersonates), is DPoP-bound when the request has a proof, and comes with
 *   no refresh token;
 * - it is issued under a grant of its own for the exchanging client that names the user's original
 *   grant (its sign-in) as its own `grantId`: revoking that grant — /token/revocation, a logout,
 *   /account, a code or refresh token replay — removes every grant derived from it (the store's
 *   revokeByGrantId), so exchanged tokens die with the sign-in they came from. A JWT subject token
 *   carries no grant: tokens exchanged from one are bound only by its expiry, like it.
 * - an `actor_token` is refused: the authenticated client is always the actor, so `act` can be
 *   neither forged nor dropped by the request.
 */
export function registerTokenExchange(provider: Provider, { getResourceServerInfo, jwks, findAccount }: TokenExchangeDeps): void {
  const readSubjectToken = createSubjectTokenReader(provider, jwks, findAccount);
  const grants = (provider.Grant as unknown as { adapter: { find(id: string): Promise<{ grantId?: unknown } | undefined>; upsert(id: string, payload: object, ttl: number): Promise<void> } }).adapter;

  /** The user's sign-in grant the subject token came from: its own, or the one it was itself derived from. */
  const rootGrantOf = async (subject: SubjectToken) => {
    if (!subject.grantId) return undefined;
    const stored = await grants.find(subject.grantId);
    return typeof stored?.grantId === 'string' ? stored.grantId : subject.grantId;
  };

  /** A grant for the exchanging client, derived from (and revoked with) the user's original grant. */
  async function deriveGrant(subject: SubjectToken, client: Client, audience: string, scope: string, ttl: number) {
    const id = randomBytes(24).toString('base64url');
    const root = await rootGrantOf(subject);
    const iat = Math.floor(Date.now() / 1000);
    await grants.upsert(id, {
      jti: id, kind: 'Grant', iat, exp: iat + ttl, accountId: subject.accountId, clientId: client.clientId,
      resources: { [audience]: scope }, ...(root ? { grantId: root } : {}),
    }, ttl);
    return id;
  }

  /** What the rules allow: the subject token, the target API, the scopes and the actor (or a refusal, thrown). */
  async function decide(ctx: GrantContext, me: ExchangingClient) {
    const { client, params } = ctx.oidc;
    // before any token is looked at: a public client learns nothing about tokens here
    if (me.isPublic) refuseIf({ error: 'unauthorized_client', description: 'a public client cannot exchange tokens' });
    refuseIf(checkExchangeParams(params));
    const subject = accept(await readSubjectToken(ctx, params.subject_token as string));
    refuseIf(mayExchange(subject, me));
    const audience = accept(targetOf(params, defaultAudience(client)));
    const info = await getResourceServerInfo(ctx, audience, client);
    const requested = typeof params.scope === 'string' && params.scope ? params.scope.split(' ') : undefined;
    const scopes = accept(narrowScopes(requested, subject.scopes, info.scope ? info.scope.split(' ') : []));
    return { subject, audience, info, scope: scopes.join(' '), act: accept(actorOf(subject, me)) };
  }

  /** The request's DPoP proof, if any, checked against what the client and the subject token demand. */
  async function senderProof(ctx: GrantContext, subject: SubjectToken) {
    const { client } = ctx.oidc;
    const dPoP = await validateDpop(provider, ctx);
    // A sender-constrained token stays so in its own client's hands: it must prove the key. (Its
    // resource server verified the proof it came with, and holds no key of the client's.)
    if (subject.jkt && subject.clientId === client.clientId && dPoP?.thumbprint !== subject.jkt) {
      refuseIf(badSubject('the subject token is DPoP-bound: send a DPoP proof of its key'));
    }
    if (!dPoP && client.dpopBoundAccessTokens) refuseIf({ error: 'invalid_request', description: 'DPoP proof JWT not provided' });
    if (dPoP) await checkDpopReplay(provider, ctx, dPoP, client.clientId);
    return dPoP;
  }

  async function exchange(ctx: GrantContext): Promise<ExchangeEvent> {
    const { client } = ctx.oidc;
    const me = exchanging(client);
    const { subject, audience, info, scope, act } = await decide(ctx, me);
    const dPoP = await senderProof(ctx, subject);

    // its grant is made once its lifetime is known, below
    const token = new provider.AccessToken({ accountId: subject.accountId, client, gty: 'token_exchange', scope } as ConstructorParameters<Provider['AccessToken']>[0]);
    token.resourceServer = new provider.ResourceServer(audience, info);
    const now = Math.floor(Date.now() / 1000);
    const ttl = lifetimeOf(token.expiration, subject.exp, now);
    if (ttl < 1) refuseIf(badSubject('the subject token has expired'));
    // iat and exp are fixed from the second the lifetime was measured in: oidc-provider would
    // stamp them when the token is saved, and a second ticking before then would let the token
    // outlive its subject token by one
    Object.assign(token as unknown as { iat: number; exp: number; expiresIn: number }, { iat: now, exp: now + ttl, expiresIn: ttl });
    if (dPoP) token.setThumbprint('jkt', dPoP.thumbprint);
    const grantId = await deriveGrant(subject, client, audience, scope, ttl);
    token.grantId = grantId;
    if (act) actOf.set(token, act);

    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = { access_token: value, issued_token_type: accessTokenType, token_type: token.tokenType, expires_in: ttl, scope };
    return {
      client_id: me.clientId, actor: subject.accountId, subject_client_id: subject.clientId, subject_audience: subject.audience,
      audience, scope, act, impersonation: me.impersonates, dpop: Boolean(dPoP), grant_id: grantId,
    };
  }

  provider.registerGrantType(
    tokenExchangeGrant,
    async (ctx) => {
      try {
        provider.emit('token_exchange.success', ctx, await exchange(ctx));
      } catch (err) {
        provider.emit('token_exchange.error', ctx, err);
        throw err;
      }
    },
    parameters,
  );
  provider.use(unauthorizedClientForTokenExchange(provider));
}
