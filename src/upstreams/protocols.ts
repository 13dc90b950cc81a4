import { createAppleUpstream } from './apple-upstream.js';
import { createGitHubUpstream } from './github-upstream.js';
import { createMicrosoftUpstream } from './microsoft-upstream.js';
import { createNaverUpstream } from './naver-upstream.js';
import { createOidcUpstream } from './oidc-upstream.js';
import type { UpstreamProtocolName } from './presets.js';
import type { UpstreamRegistry } from './upstream-registry.js';
import type { UpstreamProtocol } from './upstream-protocol.js';

/** Each way of signing in at an upstream, with the registry's secrets and keys. */
export function createProtocols(registry: UpstreamRegistry): Record<UpstreamProtocolName, UpstreamProtocol> {
  return {
    oidc: createOidcUpstream(registry.clientSecret),
    github: createGitHubUpstream(registry.clientSecret),
    naver: createNaverUpstream(registry.clientSecret),
    apple: createAppleUpstream(registry.privateKey),
    microsoft: createMicrosoftUpstream(registry.clientSecret),
  };
}
