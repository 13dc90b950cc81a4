import type { KoaContextWithOIDC } from 'oidc-provider';

import { defaultLocale } from '../i18n/catalog.js';
import type { LocaleSource } from '../i18n/i18n.js';
import type { Views } from '../views/render.js';

export interface ErrorOut {
  error: string;
  error_description?: string | undefined;
}

export interface ErrorPageContext extends LocaleSource {
  type: string;
  body: unknown;
  state?: { requestId?: string; locale?: string };
}

export interface ErrorPageOptions {
  /** the page's language; else the one the request's interaction chose, else Accept-Language */
  locale?: string | undefined;
  /** the catalogue message that says what error_description says (see HttpError) */
  messageKey?: string | undefined;
}

/**
 * The browser-facing error page, for oidc-provider's renderError and our own routes. English pages
 * show the description as it is. Other languages show the catalogue's words for it (messageKey) or,
 * failing that, for the error code, with the untranslated description kept as a detail.
 */
export function renderErrorPage(views: Views, ctx: ErrorPageContext, out: ErrorOut, options: ErrorPageOptions = {}) {
  const { i18n } = views;
  const lang = options.locale ?? ctx.state?.locale ?? i18n.negotiate(ctx);
  const t = (key: string) => i18n.t(lang, key);
  const forCode = (kind: 'headings' | 'messages') =>
    i18n.has(defaultLocale, `error.${kind}.${out.error}`) ? t(`error.${kind}.${out.error}`) : t(`error.${kind}.other`);
  let message: string;
  let detail: string | undefined;
  if (out.error === 'server_error') message = t('error.messages.server_error');
  else if (out.error_description === undefined) message = forCode('messages');
  else if (lang === defaultLocale) message = out.error_description;
  else if (options.messageKey) message = t(options.messageKey);
  else [message, detail] = [forCode('messages'), out.error_description];
  ctx.type = 'html';
  ctx.body = views.render('error', lang, { heading: forCode('headings'), message, detail, error: out.error, requestId: ctx.state?.requestId });
}

/** An error answer: our error page for browsers, OAuth-style JSON for everyone else. */
export function respondWithError(
  views: Views,
  ctx: ErrorPageContext & { accepts(...types: string[]): string | false },
  out: ErrorOut,
  options: ErrorPageOptions = {},
) {
  if (ctx.accepts('json', 'html') === 'html') renderErrorPage(views, ctx, out, options);
  else ctx.body = out;
}

/** The ui_locales of the request oidc-provider is handling, if it got that far. */
export function uiLocalesOf(ctx: KoaContextWithOIDC): unknown {
  try {
    return ctx.oidc?.params?.ui_locales;
  } catch {
    return undefined;
  }
}

export const createRenderError = (views: Views) => async (ctx: KoaContextWithOIDC, out: ErrorOut) => {
  renderErrorPage(views, ctx, out, { locale: views.i18n.negotiate(ctx, uiLocalesOf(ctx)) });
};
