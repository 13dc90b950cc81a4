import type { Middleware } from 'koa';
import type { Logger } from 'pino';

import type { ErrorOut, ErrorPageContext, ErrorPageOptions, ShowErrorPage } from '../pages/error.js';
import { noStore } from './no-cache.js';

interface Exposable {
  code?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  error?: string;
  error_description?: string;
  message?: string;
  messageKey?: string;
}

/** An error answer: the error page for browsers, OAuth-style JSON for everyone else. */
export function answerError(
  showErrorPage: ShowErrorPage,
  ctx: ErrorPageContext & { accepts(...types: string[]): string | false },
  out: ErrorOut,
  options: ErrorPageOptions = {},
): void {
  if (ctx.accepts('json', 'html') === 'html') showErrorPage(ctx, out, options);
  else ctx.body = out;
}

/** A store outage (the store's ERR_STORE_UNAVAILABLE) is a 503, whoever let it through. */
const statusOf = (err: Exposable): number => (err.code === 'ERR_STORE_UNAVAILABLE' ? 503 : (err.status ?? err.statusCode ?? 500));

/** How long a client should wait before retrying after a 503. */
const retryAfterSeconds = '5';

/**
 * Errors from our own routes: an HTML page for browsers, OAuth-style JSON for everyone else.
 * Anything not meant to be shown becomes a generic server_error; the detail goes to the log only.
 * Every 503 leaves with Retry-After, also those oidc-provider answered itself (its routes catch
 * their own errors, a store outage among them: src/provider/adapter.ts).
 */
export function errorHandler(showErrorPage: ShowErrorPage, logger: Logger): Middleware {
  return function handleErrors(ctx, next) {
    const retryLater = () => {
      if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', retryAfterSeconds);
    };
    return next().then(retryLater, (caught: unknown) => {
      const err = caught as Exposable;
      const status = statusOf(err);
      // 503 (store outage) is shown as such so clients retry; other 5xx become a generic 500.
      const shown = (err.expose === true && status < 500) || status === 503;
      const out = shown
        ? status === 503
          ? { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; try again shortly' }
          : { error: err.error ?? 'invalid_request', error_description: err.error_description ?? err.message }
        : { error: 'server_error', error_description: 'the server could not complete the request' };
      // The same words on the page in the reader's language, when the error says which.
      const messageKey = shown ? (status === 503 ? 'errors.unavailable' : err.error_description ? undefined : err.messageKey) : undefined;
      if (!shown) logger.error({ err: caught, requestId: ctx.state.requestId }, 'request failed');
      if (status === 503) {
        logger.warn({ err: caught, requestId: ctx.state.requestId }, 'store unavailable');
        ctx.set('Retry-After', retryAfterSeconds);
      }
      ctx.status = shown ? status : 500;
      noStore(ctx);
      answerError(showErrorPage, ctx, out, { messageKey });
    });
  };
}
