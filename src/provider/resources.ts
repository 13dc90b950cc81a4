import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import { apiAccess, defaultAudience } from '../clients/client-access.js';
import type { ApiRegistry } from '../apis/api-registry.js';
import { supportedScopes } from './claims.js';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;
type ResourceClient = Parameters<NonNullable<ResourceIndicators['getResourceServerInfo']>>[2];

/** The token request asks for client credentials and names no scope. */
const scopelessClientCredentials = (ctx: KoaContextWithOIDC) =>
  ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials' && !ctx.oidc.params.scope;

/**
 * APIs as RFC 8707 resources, from the store (the CLI's `apis add`): a client asks with the
 * `resource` parameter or gets its `default_audience`. A client may have tokens only for its own
 * `--audience` or an API sharing a scope with the API scopes it was registered for (others:
 * invalid_target), and only with those scopes. JWT-format APIs get RFC 9068 access tokens signed
 * ES256 (ID tokens stay RS256).
 */
export function createResourceIndicators(apis: Pick<ApiRegistry, 'find' | 'isBuiltIn'>): ResourceIndicators {
  /** The API scopes the client could be granted at `audience` (none for an API it may not use). */
  const grantableAt = async (audience: string, client: ResourceClient) => {
    const api = await apis.find(audience);
    return api ? apiAccess(client, api).scopes : [];
  };

  return {
    enabled: true,
    async defaultResource(_ctx, client, oneOf) {
      if (oneOf?.length) return oneOf[0]!;
      return defaultAudience(client);
    },
    // A token request naming no resource gets the granted API only when it asks for (or was
    // granted) a scope there; else, with openid, the token is for userinfo (RFC 8707 §2.2).
    async useGrantedResource(ctx, model) {
      const scope = ctx.oidc.params?.scope;
      const asked = typeof scope === 'string' ? scope.split(' ') : [...((model as { scopes?: Set<string> }).scopes ?? [])];
      if (asked.length && asked.every((s) => supportedScopes.includes(s))) return false;
      const resource = (model as { resource?: unknown }).resource;
      if (typeof resource !== 'string' || !ctx.oidc.client) return true;
      const grantable = await grantableAt(resource, ctx.oidc.client);
      return asked.some((s) => grantable.includes(s)) || !asked.includes('openid');
    },
    async getResourceServerInfo(ctx, resourceIndicator, client) {
      const api = await apis.find(resourceIndicator);
      if (!api) throw new errors.InvalidTarget(`unknown API ${resourceIndicator}`);
      const access = apiAccess(client, api);
      if (!access.allowed) throw new errors.InvalidTarget(`this client may not get tokens for ${resourceIndicator}`);
      // idport's own admin API takes a client's own tokens only: a user signing in to a client that
      // holds admin scopes must never carry the client's admin power in a token of their own.
      if (apis.isBuiltIn(api.audience) && !(ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials')) {
        throw new errors.InvalidTarget(`${resourceIndicator} takes client_credentials tokens only`);
      }
      // Client credentials naming no scope get every scope the client may have at this API.
      if (scopelessClientCredentials(ctx) && access.scopes.length) ctx.oidc.params!.scope = access.scopes.join(' ');
      return {
        scope: access.scopes.join(' '),
        audience: api.audience,
        ...(api.accessTokenTtl ? { accessTokenTTL: api.accessTokenTtl } : {}),
        accessTokenFormat: api.tokenFormat,
        ...(api.tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'ES256' } } } : {}),
      };
    },
  };
}

/**
 * oidc-provider's extraTokenClaims hook, called as every access token is minted: an access token
 * for an API must carry at least one scope, so a token naming the API but granting nothing there
 * is refused (invalid_target), never issued.
 */
export async function refuseScopelessApiTokens(_ctx: KoaContextWithOIDC, token: { resourceServer?: { audience?: unknown }; scope?: string }) {
  if (token.resourceServer && !token.scope) {
    throw new errors.InvalidTarget(`no scope at ${String(token.resourceServer.audience)} was requested or granted to this client`);
  }
  return undefined;
}
