import type { Middleware } from 'koa';

/**
 * oidc-provider builds endpoint URLs (discovery, redirects, form actions) from the request's Host
 * (or X-Forwarded-Host when proxy trust is on). A spoofed Host would then advertise an attacker's
 * endpoints, e.g. into a shared cache. We answer only as the issuer: the host is pinned to it.
 */
export function pinHost(issuer: string): Middleware {
  const host = new URL(issuer).host;
  return function pinHostToIssuer(ctx, next) {
    ctx.req.headers.host = host;
    if (ctx.req.headers['x-forwarded-host'] !== undefined) ctx.req.headers['x-forwarded-host'] = host;
    return next();
  };
}
