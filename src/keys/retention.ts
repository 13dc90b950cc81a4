import type { Config } from '../config/schema.js';
import type { ApiRecord } from '../storage/types.js';

/**
 * How long a retired signing key stays published (seconds): as long as the longest-lived token it
 * may have signed (ID tokens, access tokens, client-credentials tokens, and any API registered
 * with a longer `--ttl`), plus the time running nodes take to see the rotation.
 */
export function signingKeyRetention(config: Pick<Config, 'ttl' | 'keys'>, apis: Pick<ApiRecord, 'accessTokenTtl'>[]): number {
  const { ttl, keys } = config;
  const longestApi = Math.max(0, ...apis.map((api) => api.accessTokenTtl ?? 0));
  return Math.max(ttl.idToken, ttl.accessToken, ttl.clientCredentials, longestApi) + keys.refreshSeconds;
}

/** How long a retired cookie key keeps verifying cookies: as long as a session can live, plus refresh lag. */
export const cookieKeyRetention = (config: Pick<Config, 'ttl' | 'keys'>): number => config.ttl.session + config.keys.refreshSeconds;
