import { Eta } from 'eta';

import { packageRoot } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { noStore } from '../http/no-cache.js';
import { setFormCsp, type CspContext } from '../http/security-headers.js';
import type { I18n, LocaleSource } from '../i18n/i18n.js';
import { formatHtml, strong } from './html.js';

/**
 * Every page (a template in views/ of the same name), and what sending it takes besides markup:
 * pages with forms narrow the CSP's form-action; pages are no-store, except the error page,
 * whose route decides (error answers are no-store where the JSON ones are too).
 */
const pages = {
  login: { forms: true, noStore: true },
  consent: { forms: true, noStore: true },
  logout: { forms: true, noStore: true },
  'logged-out': { forms: false, noStore: true },
  'device-code': { forms: true, noStore: true },
  'device-confirm': { forms: true, noStore: true },
  'device-done': { forms: false, noStore: true },
  account: { forms: true, noStore: true },
  /** the second step of a sign-in: a one-time code, a recovery code or a passkey */
  mfa: { forms: true, noStore: true },
  /** /account: setting up an authenticator app (QR code, secret, confirming code) */
  'totp-setup': { forms: true, noStore: true },
  /** /account: new recovery codes, shown once */
  'recovery-codes': { forms: true, noStore: true },
  /** creating an account (signup.enabled) */
  signup: { forms: true, noStore: true },
  /** "Forgot password?": the address to send a reset link to */
  'forgot-password': { forms: true, noStore: true },
  /** the page a reset link opens: the new password */
  'reset-password': { forms: true, noStore: true },
  /** /account: a new password, a new email, where the account is signed in, deleting it */
  'account-password': { forms: true, noStore: true },
  'account-email': { forms: true, noStore: true },
  'account-sessions': { forms: true, noStore: true },
  'account-delete': { forms: true, noStore: true },
  /** linking an upstream sign-in to the account that has its email: the account's password or passkey */
  'upstream-link': { forms: true, noStore: true },
  /** a message with a heading, some text, links onward and maybe buttons ("check your email": continue, send again) */
  message: { forms: true, noStore: true },
  error: { forms: false, noStore: false },
} as const satisfies Record<string, { forms: boolean; noStore: boolean }>;

export type PageName = keyof typeof pages;

/** What a page needs of the request: Koa's context or oidc-provider's. */
export interface PageContext extends LocaleSource, CspContext {
  type: string;
  body: unknown;
}

export type PageValues = Readonly<Record<string, unknown>>;

/** The page's values; a function of the page's language when they depend on it. */
export type PageData = PageValues | ((locale: string) => PageValues);

export interface PageOptions {
  /** the page's language when the caller already chose it; else ui_locales, then Accept-Language */
  locale?: string | undefined;
  /** the request's ui_locales (space-separated tags, most preferred first) */
  uiLocales?: unknown;
  /** where the page's forms may lead besides this site (a client's redirect URI), for form-action */
  formTargets?: readonly unknown[];
}

/** Sends one page: picks its language, sets its headers (CSP, type, caching) and renders it. */
export type SendPage = (ctx: PageContext, page: PageName, data?: PageData, options?: PageOptions) => void;

export interface PageDeps {
  branding: Config['branding'];
  i18n: I18n;
}

/**
 * Server-rendered pages from views/; every value is HTML-escaped unless the template opts out.
 * Pages are rendered in one language: templates say it.t('key') for text and it.th('key', …) for
 * text with markup (such as a bold strong(name)) placed by the translation.
 */
export function createSendPage({ branding, i18n }: PageDeps): SendPage {
  const eta = new Eta({ views: `${packageRoot}views`, autoEscape: true, cache: true });
  const render = (page: PageName, locale: string, values: PageValues) => {
    const t = (key: string, params?: Record<string, unknown>) => i18n.t(locale, key, params);
    return eta.render(page, {
      title: t(`titles.${page}`),
      ...values,
      productName: branding.productName,
      logoUrl: branding.logoUrl,
      lang: locale,
      t,
      th: (key: string, params?: Record<string, unknown>) => formatHtml(i18n.t(locale, key), params),
      strong,
    });
  };

  return function sendPage(ctx, page, data = {}, { locale, uiLocales, formTargets = [] } = {}) {
    const lang = locale ?? i18n.negotiate(ctx, uiLocales);
    if (pages[page].forms) setFormCsp(ctx, formTargets);
    if (pages[page].noStore) noStore(ctx);
    ctx.type = 'html';
    ctx.body = render(page, lang, typeof data === 'function' ? data(lang) : data);
  };
}
