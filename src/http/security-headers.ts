import type { Middleware } from 'koa';

/**
 * Headers for every response. The CSP allows no inline script (oidc-provider adds a hash for
 * its own form_post script). form-action is left open for now: Chromium applies it to the
 * redirect back to the client after a form POST, so it must list client origins to be set.
 */
export function securityHeaders({ https }: { https: boolean }): Middleware {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return async function setSecurityHeaders(ctx, next) {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    if (https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}
