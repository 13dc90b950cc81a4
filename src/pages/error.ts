import { defaultLocale } from '../i18n/catalog.js';
import type { I18n } from '../i18n/i18n.js';
import type { PageContext, SendPage } from './send-page.js';

/** An OAuth-style error answer: what the page shows, and the JSON body for everyone else. */
export interface ErrorOut {
  error: string;
  error_description?: string | undefined;
}

export interface ErrorPageContext extends PageContext {
  state?: { requestId?: string; locale?: string };
}

export interface ErrorPageOptions {
  /** the page's language; else the one the request's interaction chose, else Accept-Language */
  locale?: string | undefined;
  /** the catalogue message that says what error_description says (see HttpError) */
  messageKey?: string | undefined;
}

/** Shows the error page for `out` (the caller sets the status). */
export type ShowErrorPage = (ctx: ErrorPageContext, out: ErrorOut, options?: ErrorPageOptions) => void;

/**
 * The page's words for `out` in `lang`. English pages show the description as it is. Other
 * languages show the catalogue's words for it (messageKey) or, failing that, for the error code,
 * with the untranslated description kept as a detail.
 */
function errorWords(i18n: I18n, lang: string, out: ErrorOut, messageKey: string | undefined) {
  const t = (key: string) => i18n.t(lang, key);
  const forCode = (kind: 'headings' | 'messages') =>
    i18n.has(defaultLocale, `error.${kind}.${out.error}`) ? t(`error.${kind}.${out.error}`) : t(`error.${kind}.other`);
  let message: string;
  let detail: string | undefined;
  if (out.error === 'server_error') message = t('error.messages.server_error');
  else if (out.error_description === undefined) message = forCode('messages');
  else if (lang === defaultLocale) message = out.error_description;
  else if (messageKey) message = t(messageKey);
  else [message, detail] = [forCode('messages'), out.error_description];
  return { heading: forCode('headings'), message, detail, error: out.error };
}

/** The browser-facing error page, for oidc-provider's renderError and our own routes. */
export function createErrorPage(sendPage: SendPage, i18n: I18n): ShowErrorPage {
  return function showErrorPage(ctx, out, { locale, messageKey } = {}) {
    const requestId = ctx.state?.requestId;
    sendPage(ctx, 'error', (lang) => ({ ...errorWords(i18n, lang, out, messageKey), requestId }), { locale: locale ?? ctx.state?.locale });
  };
}
