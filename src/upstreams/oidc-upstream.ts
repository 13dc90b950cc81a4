import * as client from 'openid-client';

import type { UpstreamRecord } from '../storage/types.js';
import { mapProfile, type UpstreamProfile } from './profile.js';
import { asUpstreamError, UpstreamError } from './upstream-error.js';
import { isLoopback } from './upstream-registry.js';
import type { Checks, UpstreamProtocol } from './upstream-protocol.js';

/** How long idport waits for an upstream's answer (discovery, token, userinfo), in seconds. */
export const upstreamTimeoutSeconds = 10;

/** What a preset changes in the OpenID Connect sign-in (apple-upstream.ts). */
export interface OidcVariant {
  /** client authentication at the token endpoint, instead of client_secret_basic with the client secret */
  clientAuth?: (upstream: UpstreamRecord) => Promise<client.ClientAuth>;
  /** more parameters of the authorization request (e.g. response_mode) */
  authorizationParams?: Record<string, string>;
  /** the claims (the ID token's over userinfo's) as the preset reads them, before the claim map */
  claims?: (claims: Record<string, unknown>) => Record<string, unknown>;
}

/**
 * OpenID Connect upstreams through openid-client: discovery (cached per upstream version), code
 * flow with PKCE, state and nonce; the ID token's signature checked against the upstream's JWKS
 * (enableNonRepudiationChecks), with its issuer, audience, nonce and expiry; claims from userinfo
 * added when the upstream has it (many providers release email and profile only there).
 */
export function createOidcUpstream(clientSecret: (u: UpstreamRecord) => Promise<string>, variant: OidcVariant = {}): UpstreamProtocol {
  const configs = new Map<string, { version: number; config: Promise<client.Configuration> }>();

  const configFor = (upstream: UpstreamRecord): Promise<client.Configuration> => {
    const cached = configs.get(upstream.id);
    if (cached && cached.version === upstream.updatedAt) return cached.config;
    const config = (async () => {
      const insecure = isLoopback(upstream);
      const auth = variant.clientAuth ? await variant.clientAuth(upstream) : client.ClientSecretBasic(await clientSecret(upstream));
      const found = await client.discovery(new URL(upstream.issuer), upstream.clientId, undefined, auth, {
        timeout: upstreamTimeoutSeconds,
        ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
      });
      client.enableNonRepudiationChecks(found);
      found.timeout = upstreamTimeoutSeconds;
      return found;
    })();
    configs.set(upstream.id, { version: upstream.updatedAt, config });
    // a failed discovery is tried again on the next sign-in
    config.catch(() => configs.get(upstream.id)?.config === config && configs.delete(upstream.id));
    return config;
  };

  return {
    async authorizationUrl(upstream, redirectUri, checks) {
      let config: client.Configuration;
      try {
        config = await configFor(upstream);
      } catch (err) {
        throw asUpstreamError(err, 'discovery');
      }
      return client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: upstream.scope,
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
        ...variant.authorizationParams,
      });
    },

    async finish(upstream, callbackUrl, checks: Checks): Promise<UpstreamProfile> {
      let config: client.Configuration;
      try {
        config = await configFor(upstream);
      } catch (err) {
        throw asUpstreamError(err, 'discovery');
      }
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
      } catch (err) {
        throw asUpstreamError(err, 'token');
      }
      const idClaims = tokens.claims();
      if (!idClaims) throw new UpstreamError('invalid', 'token: no ID token');
      let userinfo: Record<string, unknown> = {};
      if (config.serverMetadata().userinfo_endpoint) {
        try {
          userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        } catch (err) {
          throw asUpstreamError(err, 'userinfo');
        }
      }
      // the ID token's word wins where both speak (its claims are signed)
      const claims: Record<string, unknown> = { ...userinfo, ...idClaims };
      // An address and whether it is verified come from one source: an ID token's email never
      // borrows userinfo's email_verified (which may speak of another address).
      const emailClaim = upstream.claimMap.email ?? 'email';
      const verifiedClaim = upstream.claimMap.email_verified ?? 'email_verified';
      if (emailClaim in idClaims && !(verifiedClaim in idClaims)) delete claims[verifiedClaim];
      const profile = mapProfile(variant.claims ? variant.claims(claims) : claims, upstream.claimMap);
      if (!profile) throw new UpstreamError('invalid', 'claims: no usable subject');
      return profile;
    },
  };
}
