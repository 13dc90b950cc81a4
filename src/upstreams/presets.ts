import type { UpstreamPreset } from '../storage/types.js';

/** How idport speaks to an upstream: the module in src/upstreams that does it. */
export type UpstreamProtocolName = 'oidc' | 'github' | 'naver' | 'apple' | 'microsoft';

/** What a preset fills in, and what idport speaks to it. */
export interface PresetDef {
  /**
   * OpenID Connect (discovery, ID token); OAuth 2 plus the provider's user API (github, naver);
   * or OpenID Connect with the provider's own rules (apple, microsoft)
   */
  protocol: UpstreamProtocolName;
  /** the issuer (or base URL) when --issuer is not given; none: --issuer is required */
  issuer?: string;
  scope: string;
  /** settings with defaults (not secret), e.g. GitHub's API base URL; '' = the operator must give it */
  settings: Record<string, string>;
  /** what authenticates idport at the token endpoint: a client secret (default), or Apple's team private key */
  secret?: 'clientSecret' | 'privateKey';
  /** The problem with these settings (beyond URLs, which the registry checks), or undefined. */
  check?: (issuer: string, settings: Record<string, string>) => string | undefined;
}

/** Apple's Team ID and Key ID: ten letters and digits, as the developer account shows them. */
const appleId = /^[A-Z0-9]{10}$/;

/** A Microsoft tenant: common, organizations, consumers, a tenant id (GUID) or a verified domain. */
const microsoftTenant = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * Presets for providers that need care. Google and Kakao are plain OpenID Connect with a known
 * issuer. GitHub and Naver are OAuth 2 with a user API (no ID token). Apple is OpenID Connect with
 * form_post and a client secret that idport signs itself (apple-upstream.ts); Microsoft's
 * multi-tenant endpoints have one issuer per tenant (microsoft-upstream.ts).
 */
export const presets: Partial<Record<UpstreamPreset, PresetDef>> = {
  oidc: { protocol: 'oidc', scope: 'openid email profile', settings: {} },
  google: { protocol: 'oidc', issuer: 'https://accounts.google.com', scope: 'openid email profile', settings: {} },
  kakao: { protocol: 'oidc', issuer: 'https://kauth.kakao.com', scope: 'openid account_email profile_nickname profile_image', settings: {} },
  github: { protocol: 'github', issuer: 'https://github.com', scope: 'read:user user:email', settings: { apiUrl: 'https://api.github.com' } },
  // Naver has no scopes: what it releases is chosen in its developer console
  naver: { protocol: 'naver', issuer: 'https://nid.naver.com', scope: '', settings: { apiUrl: 'https://openapi.naver.com' } },
  apple: {
    protocol: 'apple',
    issuer: 'https://appleid.apple.com',
    scope: 'openid email name',
    settings: { teamId: '', keyId: '' },
    secret: 'privateKey',
    check: (_issuer, { teamId, keyId }) =>
      !teamId ? '--team-id is required for apple (the Team ID of your Apple developer account)'
      : !keyId ? '--key-id is required for apple (the Key ID of the Sign in with Apple private key)'
      : !appleId.test(teamId) || !appleId.test(keyId) ? '--team-id and --key-id are ten capital letters and digits, as Apple shows them'
      : undefined,
  },
  microsoft: {
    protocol: 'microsoft',
    issuer: 'https://login.microsoftonline.com',
    scope: 'openid email profile',
    settings: { tenant: 'organizations' },
    check: (issuer, { tenant }) =>
      new URL(issuer).pathname !== '/' ? 'for microsoft, --issuer is the authority without a path (https://login.microsoftonline.com); give the tenant with --tenant'
      : !tenant || !microsoftTenant.test(tenant) ? '--tenant is common, organizations, consumers, a tenant id or a domain of the tenant'
      : undefined,
  },
};

export const presetNames = Object.keys(presets) as UpstreamPreset[];

/** Whether the protocol is OpenID Connect (its scope must then include openid). */
export const speaksOpenIdConnect = (def: PresetDef) => def.protocol === 'oidc' || def.protocol === 'apple' || def.protocol === 'microsoft';
