import { supportedScopes } from '../provider/claims.js';
import { checkBackchannelLogout } from './backchannel-policy.js';
import { checkRedirectUri, isOrigin } from './redirect-policy.js';

/**
 * Client metadata of our own, beside RFC 7591's:
 * - require_pkce (boolean, default true): a confidential client may turn PKCE off (certification);
 * - first_party (boolean): our own apps, which skip the consent page;
 * - web_origins (array of origins): browser apps allowed CORS at the token, userinfo and revocation endpoints;
 * - default_audience (string): the API (RFC 8707 resource) its access tokens are for when it names none;
 * - api_scopes (array): the API scopes it may be granted (OpenID scopes stay in `scope`);
 * - introspect_for (array of API audiences): a resource server that may introspect access tokens
 *   issued to any client for those APIs (otherwise a client sees only its own tokens);
 * - require_mfa (boolean): every sign-in for this client needs a second factor;
 * - allow_impersonation (boolean): its token exchanges (RFC 8693) give tokens for the user with no
 *   `act` claim (impersonation) instead of delegation tokens naming it as the actor.
 */
export const ownProperties = ['require_pkce', 'first_party', 'web_origins', 'default_audience', 'api_scopes', 'introspect_for', 'require_mfa', 'allow_impersonation'] as const;
export type OwnProperty = (typeof ownProperties)[number];

export const deviceCodeGrant = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8693 token exchange (src/provider/token-exchange.ts) */
export const tokenExchangeGrant = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const supportedGrantTypes: readonly string[] = ['authorization_code', 'refresh_token', 'client_credentials', deviceCodeGrant, tokenExchangeGrant];
const authMethods = new Set(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

type Metadata = Record<string, unknown>;
const list = (value: unknown): unknown[] | undefined => (Array.isArray(value) ? value : undefined);
const isList = (value: unknown, each: (v: unknown) => boolean) => Array.isArray(value) && value.every(each);

/** Why one of our own properties is wrong, or undefined (absent is fine). */
export function checkOwnProperty(key: OwnProperty, value: unknown, metadata: Metadata): string | undefined {
  if (value === undefined) return undefined;
  switch (key) {
    case 'require_pkce':
      if (typeof value !== 'boolean') return 'require_pkce must be a boolean';
      return value === false && metadata.token_endpoint_auth_method === 'none' ? 'a public client (token_endpoint_auth_method none) must use PKCE' : undefined;
    case 'first_party':
      return typeof value === 'boolean' ? undefined : 'first_party must be a boolean';
    case 'require_mfa':
      return typeof value === 'boolean' ? undefined : 'require_mfa must be a boolean';
    case 'allow_impersonation':
      if (typeof value !== 'boolean') return 'allow_impersonation must be a boolean';
      return value && !list(metadata.grant_types)?.includes(tokenExchangeGrant) ? 'allow_impersonation needs the token-exchange grant' : undefined;
    case 'web_origins':
      return isList(value, isOrigin) ? undefined : 'web_origins must be a list of origins like https://app.example.com';
    case 'api_scopes':
      return isList(value, (s) => typeof s === 'string' && scopeToken.test(s)) ? undefined : 'api_scopes must be a list of scope names';
    case 'introspect_for':
      return isList(value, (a) => typeof a === 'string' && a.length > 0) ? undefined : 'introspect_for must be a list of API audiences';
    case 'default_audience':
      return typeof value === 'string' && value ? undefined : 'default_audience must be an API audience';
  }
}

/**
 * Redirect URIs a web client may register: our rules (redirect-policy.ts), and http(s) only; and
 * its back-channel logout URI (backchannel-policy.ts).
 */
export function checkClientUris(metadata: Metadata, production: boolean): string | undefined {
  for (const field of ['redirect_uris', 'post_logout_redirect_uris']) {
    const uris = metadata[field];
    if (uris === undefined) continue;
    if (!isList(uris, (u) => typeof u === 'string')) return `${field} must be a list of URIs`;
    for (const uri of uris as string[]) {
      const problem = checkRedirectUri(uri, { production });
      if (problem) return `${field}: ${problem}`;
      if (!/^https?:/i.test(uri)) return `${field}: ${uri} must be an http(s) URI (web clients)`;
    }
  }
  return checkBackchannelLogout(metadata, production);
}

/** Grant types, response types and client authentication fit together. */
function checkGrants(metadata: Metadata): string | undefined {
  const grants = list(metadata.grant_types) ?? ['authorization_code'];
  const unknown = grants.find((g) => typeof g !== 'string' || !supportedGrantTypes.includes(g));
  if (unknown !== undefined) return `grant_types: ${String(unknown)} is not supported (${supportedGrantTypes.join(', ')})`;
  const interactive = grants.includes('authorization_code');
  const responses = list(metadata.response_types) ?? (interactive ? ['code'] : []);
  if (interactive !== (responses.length === 1 && responses[0] === 'code') || (!interactive && responses.length)) {
    return 'response_types must be ["code"] exactly when grant_types has authorization_code';
  }
  if (interactive && !list(metadata.redirect_uris)?.length) return 'redirect_uris is required for a client that signs users in';
  if (!interactive && list(metadata.redirect_uris)?.length) return 'redirect_uris needs the authorization_code grant';
  const method = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!authMethods.has(String(method))) return `token_endpoint_auth_method ${String(method)} is not supported`;
  if (method === 'none' && metadata.client_secret !== undefined) return 'a public client (token_endpoint_auth_method none) has no client_secret';
  // private_key_jwt (RFC 7523): the client proves itself with a key of its registered JWKS
  if (method === 'private_key_jwt') return metadata.jwks !== undefined || metadata.jwks_uri !== undefined ? undefined : 'private_key_jwt needs jwks or jwks_uri';
  if (method !== 'none' && (typeof metadata.client_secret !== 'string' || metadata.client_secret.length < 32)) {
    return 'a confidential client needs a client_secret of at least 32 characters';
  }
  if (method === 'none' && grants.includes('client_credentials')) return 'a public client has no secret and cannot use client_credentials';
  if (method === 'none' && grants.includes(tokenExchangeGrant)) return 'a public client has no secret and cannot use token exchange';
  return undefined;
}

/**
 * The one policy for client registrations, applied wherever a client is made: the CLI, the
 * provider's own metadata validation (extraClientMetadata), and dynamic registration. Returns why
 * the metadata is refused, or undefined. `production`: the issuer is https.
 */
export function checkClientMetadata(metadata: Metadata, { production }: { production: boolean }): string | undefined {
  if (typeof metadata.client_id !== 'string' || !metadata.client_id) return 'client_id is required';
  if (metadata.scope !== undefined) {
    const scopes = typeof metadata.scope === 'string' ? metadata.scope.split(' ') : [];
    if (!scopes.length || scopes.some((s) => !supportedScopes.includes(s))) return `scope may only hold OpenID scopes (${supportedScopes.join(' ')})`;
  }
  for (const key of ownProperties) {
    const problem = checkOwnProperty(key, metadata[key], metadata);
    if (problem) return problem;
  }
  return checkClientUris(metadata, production) ?? checkGrants(metadata);
}
