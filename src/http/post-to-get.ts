import type { Middleware, ParameterizedContext } from 'koa';

import { parseForm } from './form-body.js';
import { noStore } from './no-cache.js';

/**
 * OIDC Core §3.1.2.1 and RP-Initiated Logout §2: the authorization and logout endpoints MUST accept
 * POST (form serialization). oidc-provider allows POST there only with SameSite=None session
 * cookies, so a form POST is answered with 303 to the same path with the same parameters as the
 * query: the browser repeats it as a top-level GET, which carries our SameSite=Lax cookies.
 */
export function postToGet(paths: readonly string[]): Middleware {
  const handled = new Set(paths);
  return function redirectPostToGet(ctx, next) {
    if (ctx.method !== 'POST' || !handled.has(ctx.path)) return next();
    return redirect(ctx);
  };
  async function redirect(ctx: ParameterizedContext) {
    await parseForm(ctx, async () => {});
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries((ctx.request.body ?? {}) as Record<string, unknown>)) {
      for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') query.append(name, v);
    }
    noStore(ctx);
    ctx.status = 303;
    ctx.redirect(`${ctx.path}?${query.toString()}`);
  }
}
