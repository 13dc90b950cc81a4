import type { Config } from '../config/schema.js';
import type { ApiRecord } from '../storage/types.js';

/** Where the admin API's routes are. */
export const adminPrefix = '/admin/v1';

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Served on the public port when configured so; unset, only for a server bound to a loopback
 * address with no separate admin port.
 */
export const adminEnabled = (config: Readonly<Config>): boolean => config.admin.enabled ?? (config.admin.port === null && loopback.has(config.host));

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
