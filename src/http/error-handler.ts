import type { Middleware } from 'koa';
import type { Logger } from 'pino';

import { renderErrorPage } from '../provider/render-error.js';
import type { Views } from '../views/render.js';

interface Exposable {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  error?: string;
  error_description?: string;
  message?: string;
}

/**
 * Errors from our own routes: an HTML page for browsers, OAuth-style JSON for everyone else.
 * Anything not meant to be shown becomes a generic server_error; the detail goes to the log only.
 */
export function errorHandler(views: Views, logger: Logger): Middleware {
  return async function handleErrors(ctx, next) {
    try {
      await next();
    } catch (caught) {
      const err = caught as Exposable;
      const status = err.status ?? err.statusCode ?? 500;
      const shown = err.expose === true && status < 500;
      const out = shown
        ? { error: err.error ?? 'invalid_request', error_description: err.error_description ?? err.message }
        : { error: 'server_error', error_description: 'the server could not complete the request' };
      if (!shown) logger.error({ err: caught, requestId: ctx.state.requestId }, 'request failed');
      ctx.status = shown ? status : 500;
      ctx.set('Cache-Control', 'no-store');
      if (ctx.accepts('json', 'html') === 'html') renderErrorPage(views, ctx, out);
      else ctx.body = out;
    }
  };
}
