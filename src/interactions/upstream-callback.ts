import Router from '@koa/router';
import type { Context } from 'koa';

import { parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { noCache } from '../http/no-cache.js';
import { answerParams, interactionOfState } from '../upstreams/upstream-sign-in.js';
import { interactionUrl } from './paths.js';

/** Where upstreams send the browser back: `{issuer}/upstream/{id}/callback`, the redirect URI operators register there. */
export const upstreamCallbackPrefix = '/upstream';

/**
 * The redirect URI of every upstream. The interaction cookie is scoped to /interaction/:uid, so
 * this route only finds the interaction in `state` (`<uid>.<random>`) and sends the browser on to
 * the interaction's return route with the answer's parameters; everything is checked there, against
 * what the interaction kept. Answers come as a query (GET) or a form post (response_mode=form_post).
 */
export function createUpstreamCallbackRouter(): Router {
  const router = new Router({ prefix: upstreamCallbackPrefix });
  router.use(noCache);

  const forward = (ctx: Context, answer: Record<string, unknown>) => {
    const id = String((ctx.params as { id?: string }).id ?? '');
    const uid = interactionOfState(answer.state);
    if (!uid || !/^[a-z0-9-]{1,40}$/.test(id)) {
      throw new HttpError(400, 'invalid_request', 'this sign-in answer does not belong to a sign-in in progress; go back to the app and start again', { messageKey: 'errors.stepDone' });
    }
    const carried = new URLSearchParams();
    for (const name of answerParams) {
      const value = answer[name];
      if (typeof value === 'string' && value.length <= 4096) carried.set(name, value);
    }
    ctx.status = 303;
    ctx.redirect(`${interactionUrl(uid)}/upstream/${id}/return?${carried.toString()}`);
  };

  router.get('/:id/callback', (ctx) => forward(ctx, ctx.query));
  router.post('/:id/callback', parseForm, (ctx) => forward(ctx, (ctx.request as { body?: Record<string, unknown> }).body ?? {}));
  return router;
}
