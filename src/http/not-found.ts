import type { Middleware } from 'koa';

import { respondWithError } from '../provider/render-error.js';
import type { Views } from '../views/render.js';

/** Runs inside oidc-provider: a route nobody serves gets our error page (browsers) or OAuth-style JSON. */
export function notFound(views: Views): Middleware {
  return function renderNotFound(ctx, next) {
    return next().then(() => {
      if (ctx.status !== 404 || (ctx.body !== undefined && ctx.body !== null)) return;
      ctx.status = 404;
      const out = { error: 'not_found', error_description: 'There is nothing at this address.' };
      respondWithError(views, ctx, out, { messageKey: 'errors.notFound' });
    });
  };
}
