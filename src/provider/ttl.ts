import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import type { Config } from '../config/schema.js';

/** Explicit lifetimes for every artifact oidc-provider issues (seconds; functions must be synchronous). */
export function createTtls(ttl: Config['ttl']): NonNullable<Configuration['ttl']> {
  return {
    // An API registered with its own --ttl sets its tokens' lifetime.
    AccessToken: (_ctx: KoaContextWithOIDC, token: { resourceServer?: { accessTokenTTL?: number } }) =>
      token.resourceServer?.accessTokenTTL ?? ttl.accessToken,
    ClientCredentials: (_ctx: KoaContextWithOIDC, token: { resourceServer?: { accessTokenTTL?: number } }) =>
      token.resourceServer?.accessTokenTTL ?? ttl.clientCredentials,
    AuthorizationCode: ttl.authorizationCode,
    IdToken: ttl.idToken,
    Interaction: ttl.interaction,
    // A session nobody signed in to (opened by /device or a logout page) is worth no more than an
    // interaction: anonymous visitors must not fill the store with 14-day records.
    Session: (_ctx: KoaContextWithOIDC, session: { accountId?: string } | undefined) =>
      session?.accountId ? ttl.session : ttl.interaction,
    Grant: ttl.grant,
    DeviceCode: 600,
    BackchannelAuthenticationRequest: 600,
    RefreshToken(ctx: KoaContextWithOIDC) {
      // A rotated token inherits what is left of the absolute lifetime.
      const rotated = ctx?.oidc?.entities.RotatedRefreshToken;
      const left = rotated ? ttl.refreshTokenAbsolute - rotated.totalLifetime() : ttl.refreshTokenAbsolute;
      return Math.max(1, Math.min(ttl.refreshToken, left));
    },
  } as NonNullable<Configuration['ttl']>;
}
