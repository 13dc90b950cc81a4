import { randomBytes } from 'node:crypto';

import type { JWK } from 'jose';
import Provider, { errors, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
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
  type Refusal,
  type SubjectToken,
} from '../tokens/exchange-policy.js';
import { clientValue } from './client-metadata.js';
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

const errorFor = (refusal: Refusal): Error => {
  switch (refusal.error) {
    case 'invalid_target':
      return new errors.InvalidTarget(refusal.description);
    case 'invalid_scope':
      return new errors.InvalidScope(refusal.description, '');
    case 'unauthorized_client':
      return new errors.UnauthorizedClient(refusal.description);
    default:
      return new errors.InvalidRequest(refusal.description);
  }
};

/** The value, or throws the refusal as its OAuth error. */
function accept<T>(result: T | Refusal): T {
  if (typeof result === 'object' && result !== null && 'error' in result && 'description' in result) throw errorFor(result as Refusal);
  return result as T;
}

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

  async function exchange(ctx: GrantContext): Promise<ExchangeEvent> {
    const { client, params } = ctx.oidc;
    const me = exchanging(client);
    if (me.isPublic) accept<never>({ error: 'unauthorized_client', description: 'a public client cannot exchange tokens' });
    accept(checkExchangeParams(params) ?? null);
    const subject = accept(await readSubjectToken(ctx, params.subject_token as string));
    accept(mayExchange(subject, me) ?? null);
    const audience = accept(targetOf(params, defaultAudience(client)));
    const info = await getResourceServerInfo(ctx, audience, client);
    const requested = typeof params.scope === 'string' && params.scope ? params.scope.split(' ') : undefined;
    const scopes = accept(narrowScopes(requested, subject.scopes, info.scope ? info.scope.split(' ') : []));
    const act = accept(actorOf(subject, me));

    const dPoP = await validateDpop(provider, ctx);
    // A sender-constrained token stays so in its own client's hands: it must prove the key. (Its
    // resource server verified the proof it came with, and holds no key of the client's.)
    if (subject.jkt && subject.clientId === me.clientId && dPoP?.thumbprint !== subject.jkt) {
      accept<never>(badSubject('the subject token is DPoP-bound: send a DPoP proof of its key'));
    }
    if (!dPoP && client.dpopBoundAccessTokens) accept<never>({ error: 'invalid_request', description: 'DPoP proof JWT not provided' });

    const now = Math.floor(Date.now() / 1000);
    const scope = scopes.join(' ');
    // its grant is made once its lifetime is known, below
    const token = new provider.AccessToken({ accountId: subject.accountId, client, gty: 'token_exchange', scope } as ConstructorParameters<Provider['AccessToken']>[0]);
    token.resourceServer = new provider.ResourceServer(audience, info);
    const ttl = lifetimeOf(token.expiration, subject.exp, now);
    if (ttl < 1) accept<never>(badSubject('the subject token has expired'));
    (token as unknown as { expiresIn: number }).expiresIn = ttl;
    if (dPoP) {
      await checkDpopReplay(provider, ctx, dPoP, client.clientId);
      token.setThumbprint('jkt', dPoP.thumbprint);
    }
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

/**
 * oidc-provider answers a client using a grant type it is not registered for with invalid_request;
 * RFC 6749 §5.2 (and RFC 8693's clients) expect unauthorized_client. Only token exchange's answer
 * is renamed, so the other grants keep theirs.
 */
const unauthorizedClientForTokenExchange = (provider: Provider) => async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
  await next();
  const body = ctx.body as { error?: string; error_description?: string } | undefined;
  if (ctx.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== tokenExchangeGrant) return;
  if (body?.error !== 'invalid_request' || body.error_description !== 'requested grant type is not allowed for this client') return;
  ctx.body = { error: 'unauthorized_client', error_description: 'this client is not registered for token exchange' };
  provider.emit('token_exchange.error', ctx, new errors.UnauthorizedClient('this client is not registered for token exchange'));
};
