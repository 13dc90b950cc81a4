import type { IncomingMessage } from 'node:http';
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

/**
 * An absolute-form request target (`GET http://evil.example/path HTTP/1.1`) is where Koa, and so
 * oidc-provider, take scheme and host from, past the Host pinning. Rewrites any target that is not
 * origin-form to its path and query; call it before Koa sees the request (it copies the target).
 */
export function pinRequestTarget(req: IncomingMessage): void {
  const target = req.url ?? '/';
  if (target.startsWith('/')) return;
  const url = URL.parse(target, 'http://origin-form.invalid/');
  req.url = url ? `/${url.pathname.replace(/^\/+/, '')}${url.search}` : '/';
}
