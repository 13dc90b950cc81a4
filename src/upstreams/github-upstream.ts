import * as client from 'openid-client';

import type { UpstreamRecord } from '../storage/types.js';
import { upstreamTimeoutSeconds } from './oidc-upstream.js';
import { mapProfile, type UpstreamProfile } from './profile.js';
import { asUpstreamError, UpstreamError } from './upstream-error.js';
import type { UpstreamProtocol } from './upstream-protocol.js';
import { oauth2Config } from './oauth2-config.js';

interface GitHubUser {
  id?: unknown;
  login?: unknown;
  name?: unknown;
  avatar_url?: unknown;
}

interface GitHubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

/**
 * GitHub (and GitHub Enterprise Server): OAuth 2 with PKCE and state at `{issuer}/login/oauth/…`,
 * then the user from its REST API (`{apiUrl}/user`, `{apiUrl}/user/emails`). There is no ID token:
 * the subject is GitHub's numeric user id (never reused, unlike the login name), and the email is
 * the primary address only if GitHub says it is verified.
 */
export function createGitHubUpstream(clientSecret: (u: UpstreamRecord) => Promise<string>): UpstreamProtocol {
  const configFor = async (upstream: UpstreamRecord) => oauth2Config(upstream, await clientSecret(upstream), { authorize: '/login/oauth/authorize', token: '/login/oauth/access_token' });

  const api = async <T>(upstream: UpstreamRecord, path: string, accessToken: string): Promise<T> => {
    const response = await fetch(`${upstream.settings.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'user-agent': 'idport', 'x-github-api-version': '2022-11-28' },
      redirect: 'error',
      signal: AbortSignal.timeout(upstreamTimeoutSeconds * 1000),
    });
    if (!response.ok) throw new UpstreamError('invalid', `GitHub API ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };

  return {
    async authorizationUrl(upstream, redirectUri, checks) {
      return client.buildAuthorizationUrl(await configFor(upstream), {
        redirect_uri: redirectUri,
        scope: upstream.scope,
        state: checks.state,
        code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
        allow_signup: 'false',
      });
    },

    async finish(upstream, callbackUrl, checks): Promise<UpstreamProfile> {
      const config = await configFor(upstream);
      let accessToken: string;
      try {
        const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state });
        accessToken = tokens.access_token;
      } catch (err) {
        throw asUpstreamError(err, 'token');
      }
      let user: GitHubUser;
      let emails: GitHubEmail[];
      try {
        [user, emails] = await Promise.all([api<GitHubUser>(upstream, '/user', accessToken), api<GitHubEmail[]>(upstream, '/user/emails', accessToken)]);
      } catch (err) {
        throw asUpstreamError(err, 'user API');
      }
      const primary = Array.isArray(emails) ? emails.find((e) => e.primary === true && e.verified === true && typeof e.email === 'string') : undefined;
      const raw: Record<string, unknown> = {
        sub: typeof user.id === 'number' ? String(user.id) : undefined,
        preferred_username: user.login,
        name: user.name,
        picture: user.avatar_url,
        ...(primary ? { email: primary.email, email_verified: true } : {}),
      };
      const profile = mapProfile(raw, upstream.claimMap);
      if (!profile) throw new UpstreamError('invalid', 'GitHub user has no id');
      return profile;
    },
  };
}
