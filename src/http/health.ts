import type { Middleware, ParameterizedContext } from 'koa';

import type { Store } from '../storage/types.js';
import { noStore } from './no-cache.js';

/** /healthz: the process answers. /readyz: the store answers and we are not draining. */
export function health(store: Pick<Store, 'ping'>, isDraining: () => boolean): Middleware {
  async function ready(ctx: ParameterizedContext) {
    noStore(ctx);
    if (isDraining()) {
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    try {
      await store.ping();
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'store unavailable' };
    }
  }
  return function serveHealth(ctx, next) {
    if (ctx.path === '/healthz') {
      noStore(ctx);
      ctx.body = { status: 'ok' };
      return undefined;
    }
    if (ctx.path === '/readyz') return ready(ctx);
    return next();
  };
}
