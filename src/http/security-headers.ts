import type { Middleware } from 'koa';

const baseCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
];

/**
 * The CSP source for where a form on our page may end up. Chromium applies form-action to every
 * redirect after the POST too, so pages whose forms lead back to a client list its origin.
 */
export function formTarget(uri: unknown): string | undefined {
  if (typeof uri !== 'string') return undefined;
  try {
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
    return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : undefined;
  } catch {
    return undefined;
  }
}

/** A page with forms: form-action limited to ourselves and the given targets. */
export function setFormCsp(ctx: { set(name: string, value: string): void }, targets: readonly unknown[]): void {
  const sources = ["'self'", ...new Set(targets.map(formTarget).filter((t): t is string => !!t))];
  ctx.set('Content-Security-Policy', [...baseCsp, `form-action ${sources.join(' ')}`].join('; '));
}

/**
 * Headers for every response. The CSP allows no inline script (oidc-provider adds a hash for
 * its own form_post script); pages with forms narrow form-action with setFormCsp.
 */
export function securityHeaders({ https }: { https: boolean }): Middleware {
  const csp = baseCsp.join('; ');
  return async function setSecurityHeaders(ctx, next) {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    if (https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
  };
}
