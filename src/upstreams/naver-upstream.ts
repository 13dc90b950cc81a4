import * as client from 'openid-client';

import type { UpstreamRecord } from '../storage/types.js';
import { upstreamTimeoutSeconds } from './oidc-upstream.js';
import { mapProfile, type UpstreamProfile } from './profile.js';
import { asUpstreamError, UpstreamError } from './upstream-error.js';
import type { UpstreamProtocol } from './upstream-protocol.js';
import { oauth2Config } from './oauth2-config.js';

/** Naver's profile API answer (`GET {apiUrl}/v1/nid/me`). */
interface NaverProfile {
  resultcode?: unknown;
  message?: unknown;
  response?: {
    id?: unknown;
    email?: unknown;
    name?: unknown;
    nickname?: unknown;
    profile_image?: unknown;
  };
}

/** Naver's `{ error, error_description }` in a token answer of HTTP 200 (openid-client finds no access_token there). */
function naverError(err: unknown): string | undefined {
  for (let e = err as { cause?: unknown; body?: { error?: unknown; error_description?: unknown } } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth += 1) {
    if (typeof e.body?.error === 'string') return `${e.body.error.slice(0, 64)}: ${String(e.body.error_description ?? '').slice(0, 160)}`;
  }
  return undefined;
}

/**
 * Naver Login (네이버 로그인): OAuth 2 at `{issuer}/oauth2.0/authorize` and `/oauth2.0/token`
 * (default https://nid.naver.com), then the user from the profile API at `{apiUrl}/v1/nid/me`
 * (default https://openapi.naver.com). There is no ID token. The subject is the profile's `id`
 * (Naver's identifier of the user for this application, never reassigned). Naver never says an
 * email is verified (it is an address the user chose to share), so it is never verified here: it
 * never links an existing account, and a new account does not get it (federated-accounts.ts).
 *
 * state goes out and is checked on the way back; Naver also wants it in the token request. PKCE
 * (S256) is sent too: Naver does not document it and ignores parameters it does not know, so it
 * costs nothing there and protects the code wherever the other side does check it.
 */
export function createNaverUpstream(clientSecret: (u: UpstreamRecord) => Promise<string>): UpstreamProtocol {
  const configFor = async (upstream: UpstreamRecord) => oauth2Config(upstream, await clientSecret(upstream), { authorize: '/oauth2.0/authorize', token: '/oauth2.0/token' });

  const me = async (upstream: UpstreamRecord, accessToken: string): Promise<NaverProfile> => {
    const response = await fetch(`${upstream.settings.apiUrl}/v1/nid/me`, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(upstreamTimeoutSeconds * 1000),
    });
    if (!response.ok) throw new UpstreamError('invalid', `Naver profile API: HTTP ${response.status}`);
    return (await response.json()) as NaverProfile;
  };

  return {
    async authorizationUrl(upstream, redirectUri, checks) {
      return client.buildAuthorizationUrl(await configFor(upstream), {
        redirect_uri: redirectUri,
        ...(upstream.scope ? { scope: upstream.scope } : {}),
        state: checks.state,
        code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
      });
    },

    async finish(upstream, callbackUrl, checks): Promise<UpstreamProfile> {
      let accessToken: string;
      try {
        const config = await configFor(upstream);
        // Naver answers a refused token request with HTTP 200 and { error, error_description }: no access_token, refused below
        const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state }, { state: checks.state });
        accessToken = tokens.access_token;
      } catch (err) {
        const said = naverError(err);
        if (said) throw new UpstreamError('invalid', `token: Naver said ${said}`, { cause: err });
        throw asUpstreamError(err, 'token');
      }
      let found: NaverProfile;
      try {
        found = await me(upstream, accessToken);
      } catch (err) {
        throw asUpstreamError(err, 'profile API');
      }
      if (found.resultcode !== '00' || typeof found.response !== 'object' || found.response === null) {
        throw new UpstreamError('invalid', `Naver profile API: resultcode ${String(found.resultcode).slice(0, 10)} ${String(found.message).slice(0, 100)}`);
      }
      const user = found.response;
      // Naver's own names stay readable for the claim map (e.g. {"name":"nickname"})
      const raw: Record<string, unknown> = {
        ...user,
        sub: typeof user.id === 'string' ? user.id : undefined,
        email: user.email,
        name: user.name ?? user.nickname,
        preferred_username: user.nickname,
        picture: user.profile_image,
      };
      const profile = mapProfile(raw, upstream.claimMap);
      if (!profile) throw new UpstreamError('invalid', 'Naver profile has no id');
      // whatever the claim map says: Naver has no word on verification
      return { ...profile, emailVerified: false };
    },
  };
}
