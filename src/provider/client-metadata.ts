import { errors, type Configuration } from 'oidc-provider';

import { isOrigin } from '../clients/redirect-policy.js';

/**
 * Client metadata of our own, beside RFC 7591's:
 * - require_pkce (boolean, default true): a confidential client may turn PKCE off (certification);
 * - first_party (boolean): our own apps, which skip the consent page;
 * - web_origins (array of origins): browser apps allowed CORS at the token, userinfo and revocation endpoints;
 * - default_audience (string): the API (RFC 8707 resource) its access tokens are for when it names none;
 * - api_scopes (array): the API scopes it may be granted (OpenID scopes stay in `scope`);
 * - introspect_for (array of API audiences): a resource server that may introspect access tokens
 *   issued to any client for those APIs (otherwise a client sees only its own tokens).
 */
const ownProperties = ['require_pkce', 'first_party', 'web_origins', 'default_audience', 'api_scopes', 'introspect_for'] as const;

/**
 * One of our own metadata values of an oidc-provider Client, which keeps extra metadata under its
 * own (snake_case) name; `client.metadata()` would rebuild the whole object on every request.
 */
export const clientValue = (client: object, name: (typeof ownProperties)[number]): unknown =>
  (client as Record<string, unknown>)[name];

export const extraClientMetadata: NonNullable<Configuration['extraClientMetadata']> = {
  properties: [...ownProperties],
  validator(_ctx, key, value, metadata) {
    if (value === undefined) return;
    const fail = (message: string) => {
      throw new errors.InvalidClientMetadata(message);
    };
    switch (key) {
      case 'require_pkce':
        if (typeof value !== 'boolean') fail('require_pkce must be a boolean');
        if (value === false && metadata.token_endpoint_auth_method === 'none') fail('a public client (token_endpoint_auth_method none) must use PKCE');
        break;
      case 'first_party':
        if (typeof value !== 'boolean') fail('first_party must be a boolean');
        break;
      case 'web_origins':
        if (!Array.isArray(value) || !value.every(isOrigin)) fail('web_origins must be a list of origins like https://app.example.com');
        break;
      case 'api_scopes':
        if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) {
          fail('api_scopes must be a list of scope names');
        }
        break;
      case 'introspect_for':
        if (!Array.isArray(value) || !value.every((a) => typeof a === 'string' && a.length > 0)) fail('introspect_for must be a list of API audiences');
        break;
      case 'default_audience':
        if (typeof value !== 'string' || !value) fail('default_audience must be an API audience');
        break;
      default:
    }
  },
};
