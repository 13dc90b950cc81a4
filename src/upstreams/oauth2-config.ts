import * as client from 'openid-client';

import type { UpstreamRecord } from '../storage/types.js';
import { upstreamTimeoutSeconds } from './oidc-upstream.js';
import { isLoopback } from './upstream-registry.js';

/**
 * openid-client's configuration for an upstream that is OAuth 2 without discovery (GitHub,
 * Naver): its two endpoints under the issuer (base URL), the client secret in the token request's
 * body, plain http only to this machine, and our timeout.
 */
export async function oauth2Config(upstream: UpstreamRecord, clientSecret: string, paths: { authorize: string; token: string }): Promise<client.Configuration> {
  const config = new client.Configuration(
    { issuer: upstream.issuer, authorization_endpoint: `${upstream.issuer}${paths.authorize}`, token_endpoint: `${upstream.issuer}${paths.token}` },
    upstream.clientId,
    undefined,
    client.ClientSecretPost(clientSecret),
  );
  if (isLoopback(upstream)) client.allowInsecureRequests(config);
  config.timeout = upstreamTimeoutSeconds;
  return config;
}
