import type { Middleware } from 'koa';

/** Anything with a Cache-Control header to set (Koa's context, oidc-provider's). */
interface HeaderTarget {
  set(field: string, value: string): void;
}

/** `Cache-Control: no-store`: pages, forms and answers about one user or one request must not be kept. */
export function noStore(ctx: HeaderTarget): void {
  ctx.set('Cache-Control', 'no-store');
}

/** For routers whose every answer (pages, redirects, errors) is no-store. */
export const noCache: Middleware = function sendNoStore(ctx, next) {
  noStore(ctx);
  return next();
};
