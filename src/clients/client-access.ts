import { claimsByScope, supportedScopes } from '../provider/claims.js';
import type { ApiRecord } from '../storage/types.js';

/**
 * What a client may be given, from its registration (in oidc-provider's Client shape: `scope`,
 * and our `api_scopes` and `default_audience` metadata). One policy for tokens, consent and claims.
 */
export interface PolicyClient {
  clientId: string;
  scope?: string | undefined;
}

const own = (client: PolicyClient, name: 'api_scopes' | 'default_audience') => (client as unknown as Record<string, unknown>)[name];

/** The OpenID scopes it may ask for: its registered `scope`, or all of ours. */
export function allowedOidcScopes(client: PolicyClient): Set<string> {
  const registered = typeof client.scope === 'string' && client.scope ? client.scope.split(' ') : supportedScopes;
  return new Set(registered.filter((s) => supportedScopes.includes(s)));
}

/** The user claims it may receive: those of its OpenID scopes (OpenID Connect Core §5.4), and `sub`. */
export function allowedClaims(client: PolicyClient): Set<string> {
  const claims = new Set<string>(['sub']);
  for (const scope of allowedOidcScopes(client)) {
    for (const claim of (claimsByScope as Record<string, readonly string[]>)[scope] ?? []) claims.add(claim);
  }
  return claims;
}

/** The API scopes it was registered for (`clients add --scope`). */
export const registeredApiScopes = (client: PolicyClient): string[] => {
  const value = own(client, 'api_scopes');
  return Array.isArray(value) ? (value as string[]) : [];
};

export const defaultAudience = (client: PolicyClient): string | undefined => {
  const value = own(client, 'default_audience');
  return typeof value === 'string' ? value : undefined;
};

/**
 * Whether the client may get access tokens for an API, and with which scopes: only for its own
 * `--audience` or an API sharing a scope with its registered API scopes, and then only those
 * shared scopes.
 */
export function apiAccess(client: PolicyClient, api: Pick<ApiRecord, 'audience' | 'scopes'>): { allowed: boolean; scopes: string[] } {
  const registered = new Set(registeredApiScopes(client));
  const scopes = api.scopes.filter((s) => registered.has(s));
  return { allowed: scopes.length > 0 || defaultAudience(client) === api.audience, scopes };
}
