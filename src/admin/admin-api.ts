import type { ApiRecord } from '../storage/types.js';

/** What the admin API lets a caller do; a client holds them as API scopes (`clients add --scope admin:users:write`). */
export const adminScopes = [
  'admin:users:read',
  'admin:users:write',
  'admin:clients:read',
  'admin:clients:write',
  'admin:apis:read',
  'admin:apis:write',
  'admin:keys:read',
  'admin:keys:write',
  'admin:upstreams:read',
  'admin:upstreams:write',
  'admin:registration:read',
  'admin:registration:write',
] as const;
export type AdminScope = (typeof adminScopes)[number];

export const adminAudience = (issuer: string): string => `${issuer.replace(/\/$/, '')}/admin`;

/** Admin tokens are short-lived JWTs: they cannot be revoked, so they must run out soon. */
export const adminTokenTtl = 300;

/**
 * The admin API as an API registered in idport itself: RFC 9068 JWT access tokens for
 * `{issuer}/admin`, with the admin scopes, for clients (client_credentials) only.
 */
export const adminApi = (issuer: string): ApiRecord => ({
  audience: adminAudience(issuer),
  name: 'idport admin API',
  scopes: [...adminScopes],
  tokenFormat: 'jwt',
  accessTokenTtl: adminTokenTtl,
  createdAt: 0,
  updatedAt: 0,
});
