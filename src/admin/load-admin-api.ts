import type { Middleware } from 'koa';

import { onFirstUse } from '../on-first-use.js';
import type { AdminApiDeps } from './create-admin-api.js';

/**
 * The admin API's middleware, its modules loaded on the first request under its prefix: a node
 * that never serves one never holds its routes and request schemas (~1.4 MB of heap, which V8's
 * heap sizing multiplies under load). A failed load is tried again by the next request.
 */
export function loadAdminApi(deps: AdminApiDeps): Middleware {
  const routes = onFirstUse(() => import('./create-admin-api.js').then(({ createAdminApi }) => createAdminApi(deps)));
  return async function adminApi(ctx, next) {
    return (await routes())(ctx, next);
  };
}
