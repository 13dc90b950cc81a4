import { errors, type Configuration } from 'oidc-provider';

import type { Store } from '../storage/types.js';
import { supportedScopes } from './claims.js';
import { clientValue } from './client-metadata.js';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;

/**
 * APIs as RFC 8707 resources, from the store (the CLI's `apis add`): a client asks with the
 * `resource` parameter or gets its `default_audience`. JWT-format APIs get RFC 9068 access tokens
 * signed ES256 (ID tokens stay RS256). A client gets only the API scopes it was registered for
 * (`api_scopes`, from `clients add --scope`), and none if it registered none.
 */
export function createResourceIndicators(store: Store): ResourceIndicators {
  return {
    enabled: true,
    async defaultResource(_ctx, client, oneOf) {
      if (oneOf?.length) return oneOf[0]!;
      const audience = clientValue(client, 'default_audience');
      return typeof audience === 'string' ? audience : undefined;
    },
    // A token request naming no resource gets the granted API, unless it asks for OpenID scopes
    // only: then the token is for userinfo (RFC 8707 §2.2: one grant, tokens for several resources).
    async useGrantedResource(ctx) {
      const scope = ctx.oidc.params?.scope;
      return typeof scope !== 'string' || !scope.split(' ').every((s) => supportedScopes.includes(s));
    },
    async getResourceServerInfo(_ctx, resourceIndicator, client) {
      const api = await store.apis.find(resourceIndicator);
      if (!api) throw new errors.InvalidTarget(`unknown API ${resourceIndicator}`);
      const registered = new Set((clientValue(client, 'api_scopes') as string[] | undefined) ?? []);
      const scopes = api.scopes.filter((s) => registered.has(s));
      return {
        scope: scopes.join(' '),
        audience: api.audience,
        ...(api.accessTokenTtl ? { accessTokenTTL: api.accessTokenTtl } : {}),
        accessTokenFormat: api.tokenFormat,
        ...(api.tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'ES256' } } } : {}),
      };
    },
  };
}
