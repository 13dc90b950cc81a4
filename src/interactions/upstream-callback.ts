import Router from '@koa/router';
import type { Context } from 'koa';

import { parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { noCache } from '../http/no-cache.js';
import { escapeHtml } from '../pages/html.js';
import { answerParams, interactionOfState } from '../upstreams/upstream-sign-in.js';
import { interactionUrl } from './paths.js';

/** Where upstreams send the browser back: `{issuer}/upstream/{id}/callback`, the redirect URI operators register there. */
export const upstreamCallbackPrefix = '/upstream';

/**
 * The redirect URI of every upstream. The interaction cookie is scoped to /interaction/:uid, so
 * this route only finds the interaction in `state` (`<uid>.<random>`) and sends the browser on to
 * the interaction's return route with the answer's parameters; everything is checked there, against
 * what the interaction kept. Answers come as a query (GET) or a form post (response_mode=form_post).
 *
 * It sends the browser on with a page of ours (a meta refresh), not a redirect: the answer often
 * comes at the end of redirects that began with a form on the upstream's page (its sign-in or
 * consent), and Chromium applies that page's CSP form-action to every redirect after it. A 303
 * here would carry that chain through our return route to the app's redirect URI, which the
 * upstream's form-action does not list (an idport upstream lists only our origin): the browser
 * would block the sign-in. The page starts a new navigation, from our origin, under our policy.
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
    const target = escapeHtml(`${interactionUrl(uid)}/upstream/${id}/return?${carried.toString()}`);
    ctx.status = 200;
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="robots" content="noindex"><meta http-equiv="refresh" content="0;url=${target}"><title>…</title></head><body><p><a href="${target}">Continue</a></p></body></html>`;
  };

  router.get('/:id/callback', (ctx) => forward(ctx, ctx.query));
  router.post('/:id/callback', parseForm, (ctx) => forward(ctx, (ctx.request as { body?: Record<string, unknown> }).body ?? {}));
  return router;
}
