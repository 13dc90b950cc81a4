import { defaultLocale } from '../i18n/catalog.js';
import type { I18n } from '../i18n/i18n.js';
import type { PageValues } from './send-page.js';

/** What the consent page asks the user to allow, before it is put in words. */
export interface ConsentRequest {
  /** the interaction's path (its forms post to …/consent and …/abort) */
  interaction: string;
  csrf: string;
  clientName: string;
  username?: string | undefined;
  /** OpenID scopes asked for */
  scopes: readonly string[];
  /** API scopes asked for, per API (its display name) */
  resources: readonly { api: string; scopes: readonly string[] }[];
  /** claims asked for one by one that the client may have */
  claims: readonly string[];
}

/** What the consent page says a scope gives access to (catalogue keys scopes.*; others read "Use {scope}"). */
export function scopeDescription(i18n: I18n, locale: string, scope: string): string {
  const key = `scopes.${scope}`;
  return scope !== 'other' && i18n.has(defaultLocale, key) ? i18n.t(locale, key) : i18n.t(locale, 'scopes.other', { scope });
}

/** The consent page's values in `locale`: each scope with its description, each API with its heading. */
export const consentPage =
  (i18n: I18n, request: ConsentRequest) =>
  (locale: string): PageValues => {
    const describe = (name: string) => ({ name, description: scopeDescription(i18n, locale, name) });
    return {
      ...request,
      scopes: request.scopes.map(describe),
      resources: request.resources.map(({ api, scopes }) => ({ heading: i18n.t(locale, 'consent.api', { api }), scopes: scopes.map(describe) })),
    };
  };
