import type { Middleware } from 'koa';
import type { Logger } from 'pino';

import { respondWithError } from '../provider/render-error.js';
import type { Views } from '../views/render.js';

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

/**
 * Errors from our own routes: an HTML page for browsers, OAuth-style JSON for everyone else.
 * Anything not meant to be shown becomes a generic server_error; the detail goes to the log only.
 */
export function errorHandler(views: Views, logger: Logger): Middleware {
  return function handleErrors(ctx, next) {
    return next().catch((caught: unknown) => {
      const err = caught as Exposable;
      // A store outage (the storage layer knows no HTTP) is a 503: clients may retry.
      const status = err.code === 'ERR_STORE_UNAVAILABLE' ? 503 : (err.status ?? err.statusCode ?? 500);
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
        ctx.set('Retry-After', '5');
      }
      ctx.status = shown ? status : 500;
      ctx.set('Cache-Control', 'no-store');
      respondWithError(views, ctx, out, { messageKey });
    });
  };
}
