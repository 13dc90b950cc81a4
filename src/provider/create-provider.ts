import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { ApiRegistry } from '../apis/api-registry.js';
import type { ConsentService } from '../consents/consent-service.js';
import type { Config } from '../config/schema.js';
import { acrValues } from '../factors/assurance.js';
import { interactionUrl } from '../interactions/paths.js';
import type { KeySet } from '../keys/key-manager.js';
import type { LogoutJob } from '../logout/backchannel-logout.js';
import { atomicReplayDetection, dpopNonceSecret } from './replay-detection.js';
import type { ProviderPages } from '../pages/provider-pages.js';
import { accountClient } from '../self-service/account-client.js';
import type { Store } from '../storage/types.js';
import { createAdapterFactory } from './adapter.js';
import { deliverLogoutTokensThrough } from './backchannel-hooks.js';
import { claimsByScope, supportedScopes } from './claims.js';
import { clientValue, extraClientMetadata } from './client-metadata.js';
import { createDeviceFlow } from './device-flow.js';
import { createLogout } from './logout.js';
import { uiLocalesOf } from './page-inputs.js';
import { mfaInteractionPolicy } from './mfa-policy.js';
import { clientFetch, registrationFeatures } from './registration.js';
import { createResourceIndicators, refuseScopelessApiTokens } from './resources.js';
import { createTtls } from './ttl.js';
import { exchangeClaims, registerTokenExchange } from './token-exchange.js';

export interface ProviderDeps {
  config: Readonly<Config>;
  store: Store;
  accounts: AccountService;
  /** what users agreed to per client: pre-fills each new sign-in's grant */
  consents: ConsentService;
  /** the APIs clients may get access tokens for */
  apis: ApiRegistry;
  keys: KeySet;
  /** the pages oidc-provider's hooks send (logout, device flow, errors); it builds no markup itself */
  pages: ProviderPages;
  /** which browser origins get CORS for a client (oidc-provider's clientBasedCORS) */
  cors: NonNullable<Configuration['clientBasedCORS']>;
  /** called with each store operation's duration, for metrics */
  onStoreOperation?: (model: string, op: string, seconds: number) => void;
  /** queues a back-channel logout token (end_session names the client, subject and sid) */
  backchannelLogout: (job: LogoutJob) => void;
}

interface PolicyClient {
  clientId: string;
}
interface PolicyToken {
  clientId?: string;
  kind?: string;
  aud?: string | string[];
}

/** A client may only revoke tokens issued to itself. */
const ownTokenOnly = async (_ctx: KoaContextWithOIDC, client: PolicyClient, token: PolicyToken) => token.clientId === client.clientId;

/**
 * A client may introspect its own tokens; a designated resource server (`introspect_for`) may
 * also introspect access tokens issued to anyone for its APIs.
 */
const introspectionPolicy = async (ctx: KoaContextWithOIDC, client: PolicyClient, token: PolicyToken) => {
  if (await ownTokenOnly(ctx, client, token)) return true;
  const apis = clientValue(client, 'introspect_for');
  if (!Array.isArray(apis) || (token.kind !== 'AccessToken' && token.kind !== 'ClientCredentials')) return false;
  const audiences = Array.isArray(token.aud) ? token.aud : token.aud ? [token.aud] : [];
  return audiences.some((aud) => apis.includes(aud));
};

/** Builds the oidc-provider instance from our configuration and hooks. */
export function createProvider({ config, store, accounts, consents, apis, keys, pages, cors, onStoreOperation, backchannelLogout }: ProviderDeps): Provider {
  const secureCookies = config.issuer.startsWith('https:');
  const cookieOptions = { httpOnly: true, sameSite: 'lax', secure: secureCookies } as const;
  const resourceIndicators = createResourceIndicators(apis);

  const configuration: Configuration = {
    adapter: createAdapterFactory(store, onStoreOperation, { pkceOptional: config.registration.pkceOptional }) as unknown as Configuration['adapter'],
    findAccount: accounts.findAccount,
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      long: cookieOptions,
      short: cookieOptions,
      // __Host- needs Path=/, which only the session cookie has: the interaction and resume
      // cookies are scoped to their own paths, so they take __Secure-.
      names: secureCookies
        ? { session: '__Host-idport.session', interaction: '__Secure-idport.interaction', resume: '__Secure-idport.resume' }
        : { session: 'idport.session', interaction: 'idport.interaction', resume: 'idport.resume' },
    },
    clients: [accountClient(config.issuer, config.branding.productName)] as Configuration['clients'],
    // acr and amr ride with `openid`: every ID token says how its sign-in was made, when it says.
    claims: { ...claimsByScope, openid: [...claimsByScope.openid, 'acr', 'amr'] } as unknown as Configuration['claims'],
    scopes: supportedScopes,
    // oidc-provider's default (true) keeps scope claims out of the ID token whenever an access token
    // is issued (OIDC Core §5.4 allows it); relying parties that read the profile from the ID token
    // (Auth.js, express-openid-connect) then get an empty one. The granted scopes' claims go in.
    conformIdTokenClaims: !config.scopeClaimsInIdToken,
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    // RFC 9700 §2.1.1: PKCE (S256 only, oidc-provider supports no other) for every client, unless a
    // confidential client is registered with require_pkce: false (OpenID certification; RPs that rely
    // on the nonce, which §2.1.1 allows confidential OpenID Connect clients). Public clients always
    // need it. A code_challenge that is sent is always enforced, and a code_verifier for a code
    // issued without one is refused (no downgrade).
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' || clientValue(client, 'require_pkce') !== false },
    extraClientMetadata: extraClientMetadata({ production: config.issuer.startsWith('https:') }),
    fetch: clientFetch(config.issuer.startsWith('https:')),
    clientBasedCORS: cors,
    // One grant per sign-in (browser session and client): revoking one device's token, replaying a
    // code or reusing a refresh token there never touches another device's sign-in. What the user
    // agreed to is remembered per client apart from grants, and pre-fills each new sign-in's grant.
    async loadExistingGrant(ctx) {
      const { session, client, result } = ctx.oidc;
      if (!session?.accountId || !client) return undefined;
      const grantId = (result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
      const grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (grant?.accountId === session.accountId && grant.clientId === client.clientId) return grant;
      return consents.prefill(ctx.oidc.provider, session.accountId, client);
    },
    // The last word on access tokens for an API: never one with no scope (see resources.ts); an
    // exchanged token's `act` (token-exchange.ts).
    async extraTokenClaims(ctx, token) {
      await refuseScopelessApiTokens(ctx, token);
      return exchangeClaims(token);
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: introspectionPolicy as never },
      revocation: { enabled: true, allowedPolicy: ownTokenOnly as never },
      userinfo: { enabled: true },
      resourceIndicators,
      deviceFlow: createDeviceFlow(pages),
      // Signed userinfo (application/jwt) for clients registered with userinfo_signed_response_alg.
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: createLogout(pages),
      // Back-Channel Logout 1.0, delivered through our queue (backchannel-hooks.ts, src/logout/).
      backchannelLogout: { enabled: true },
      // RFC 9126 and RFC 9449, on deliberately: clients may be made to use them (--require-par,
      // --require-dpop); DPoP nonces come from a secret every node derives alike from the store.
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true, nonceSecret: dpopNonceSecret(keys.cookieKeys) },
      // RFC 7591/7592, when registration.mode is not off (see registration.ts)
      ...registrationFeatures(config.registration.mode),
    },
    ttl: createTtls(config.ttl),
    rotateRefreshToken(ctx) {
      const { RefreshToken: token, Client: client } = ctx.oidc.entities;
      if (!token || !client) return false;
      // Past the absolute lifetime a refresh token is not renewed; it simply runs out.
      if (token.totalLifetime() >= config.ttl.refreshTokenAbsolute) return false;
      // Public clients rotate on every use (reuse of an old one revokes the grant).
      if (client.clientAuthMethod === 'none') return true;
      return token.ttlPercentagePassed() >= 70;
    },
    interactions: { url: (_ctx, interaction) => interactionUrl(interaction.uid), policy: mfaInteractionPolicy(config.mfa) },
    // acr_values_supported in discovery; the session's acr and amr go into ID tokens.
    acrValues: [...acrValues],
    discovery: { ui_locales_supported: [...pages.locales] },
    renderError: (ctx, out) => pages.error(ctx, out, { uiLocales: uiLocalesOf(ctx) }),
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.proxy;
  // Trust only the address the nearest proxy appended to X-Forwarded-For: entries further left
  // come from the client and would let it pick its own IP for the per-IP limits.
  provider.maxIpsCount = 1;
  provider.silent = true;
  atomicReplayDetection(provider, store.counters);
  // RFC 8693, for clients registered with the token-exchange grant
  registerTokenExchange(provider, { getResourceServerInfo: resourceIndicators.getResourceServerInfo!, jwks: keys.jwks, findAccount: accounts.findAccount });
  deliverLogoutTokensThrough(provider, backchannelLogout);
  return provider;
}
