import type { Middleware } from 'koa';

import type { ShowErrorPage } from '../pages/error.js';
import { answerError } from './error-handler.js';

/** Runs inside oidc-provider: a route nobody serves gets our error page (browsers) or OAuth-style JSON. */
export function notFound(showErrorPage: ShowErrorPage): Middleware {
  return function renderNotFound(ctx, next) {
    return next().then(() => {
      if (ctx.status !== 404 || (ctx.body !== undefined && ctx.body !== null)) return;
      ctx.status = 404;
      const out = { error: 'not_found', error_description: 'There is nothing at this address.' };
      answerError(showErrorPage, ctx, out, { messageKey: 'errors.notFound' });
    });
  };
}
