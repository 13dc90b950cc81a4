import { defaultLocale } from '../i18n/catalog.js';
import type { I18n } from '../i18n/i18n.js';

/** Standard OIDC claims released per scope (OpenID Connect Core §5.4). */
export const claimsByScope = {
  openid: ['sub'],
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
    'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
} as const;

export const supportedScopes = ['openid', 'offline_access', ...Object.keys(claimsByScope).filter((s) => s !== 'openid')];

/** What the consent page says a scope gives access to (catalogue keys scopes.*; others read "Use {scope}"). */
export function scopeDescription(i18n: I18n, locale: string, scope: string): string {
  const key = `scopes.${scope}`;
  return scope !== 'other' && i18n.has(defaultLocale, key) ? i18n.t(locale, key) : i18n.t(locale, 'scopes.other', { scope });
}
