import { packageRoot } from '../config/load.js';
import { defaultLocale, format, loadCatalogs, type Messages } from './catalog.js';
import { negotiateLocale } from './negotiate.js';

/** The message catalogues shipped with idport: locales/<tag>.json at the package root. */
export const localesDir = `${packageRoot}locales`;

/** What a request offers for choosing a language: Koa's (or oidc-provider's) context. */
export interface LocaleSource {
  acceptsLanguages(): string[];
  vary?(field: string): void;
}

export interface I18n {
  /** every language we have, English first */
  readonly locales: readonly string[];
  /** the message for `key` in `locale` (English if that language lacks it), placeholders filled */
  t(locale: string, key: string, params?: Readonly<Record<string, unknown>>): string;
  /** whether `locale` has its own message for `key` */
  has(locale: string, key: string): boolean;
  /** the language for this request: ui_locales (if given) first, then Accept-Language, then English */
  negotiate(ctx: LocaleSource, uiLocales?: unknown): string;
}

/** Message catalogues from `dir` (one JSON file per language), loaded once. */
export function createI18n(dir: string): I18n {
  const catalogs = loadCatalogs(dir);
  const english = catalogs.get(defaultLocale)!;
  const locales = Object.freeze([...catalogs.keys()]);
  const has = (locale: string, key: string) => {
    const messages: Messages | undefined = catalogs.get(locale);
    return messages !== undefined && Object.hasOwn(messages, key);
  };
  return {
    locales,
    t(locale, key, params) {
      const message = has(locale, key) ? catalogs.get(locale)![key] : has(defaultLocale, key) ? english[key] : undefined;
      if (message === undefined) throw new Error(`no message ${key}`);
      return format(message, params);
    },
    has,
    negotiate(ctx, uiLocales) {
      // The page depends on Accept-Language: caches must not serve it to someone else.
      ctx.vary?.('Accept-Language');
      return negotiateLocale(locales, { uiLocales, acceptLanguages: ctx.acceptsLanguages() }, defaultLocale);
    },
  };
}
