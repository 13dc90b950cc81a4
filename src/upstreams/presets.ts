import type { UpstreamPreset } from '../storage/types.js';

/** What a preset fills in, and what idport speaks to it. */
export interface PresetDef {
  /** OpenID Connect (discovery, ID token), or OAuth 2 plus the provider's user API */
  protocol: 'oidc' | 'github';
  /** the issuer (or base URL) when --issuer is not given; none: --issuer is required */
  issuer?: string;
  scope: string;
  /** settings with defaults (not secret), e.g. GitHub's API base URL */
  settings: Record<string, string>;
}

/**
 * Presets for providers that need care. Google and Kakao are plain OpenID Connect with a known
 * issuer; GitHub is OAuth 2 with a user API (its sign-in has no ID token). Microsoft (tenant-
 * specific issuers), Apple (form_post and a JWT client secret) and Naver (OAuth 2 with its own
 * profile API) are not built yet and are refused with a clear message.
 */
export const presets: Partial<Record<UpstreamPreset, PresetDef>> = {
  oidc: { protocol: 'oidc', scope: 'openid email profile', settings: {} },
  google: { protocol: 'oidc', issuer: 'https://accounts.google.com', scope: 'openid email profile', settings: {} },
  kakao: { protocol: 'oidc', issuer: 'https://kauth.kakao.com', scope: 'openid account_email profile_nickname profile_image', settings: {} },
  github: { protocol: 'github', issuer: 'https://github.com', scope: 'read:user user:email', settings: { apiUrl: 'https://api.github.com' } },
};

export const presetNames = Object.keys(presets) as UpstreamPreset[];

export const notYet: readonly UpstreamPreset[] = ['microsoft', 'apple', 'naver'];
