import type { Middleware } from 'koa';

/**
 * The policy for every response, built once at start. Images may also come from the origin of
 * a configured https:// logo.
 */
export function contentSecurityPolicy({ logoUrl }: { logoUrl?: string | undefined } = {}): string {
  const logoOrigin = logoUrl && /^https:/i.test(logoUrl) ? new URL(logoUrl).origin : undefined;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${logoOrigin ? ` ${logoOrigin}` : ''}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

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

/** What setFormCsp needs of a context: Koa's, or oidc-provider's. */
export interface CspContext {
  set(field: string, value: string): void;
  response: { get(field: string): unknown };
}

/**
 * A page with forms: form-action limited to ourselves and the given targets, added to the policy
 * securityHeaders already set on the response (oidc-provider's own pages share that response).
 */
export function setFormCsp(ctx: CspContext, targets: readonly unknown[]): void {
  const current = ctx.response.get('Content-Security-Policy');
  const base = typeof current === 'string' && current ? current : contentSecurityPolicy();
  const directives = base.split(';').map((d) => d.trim()).filter((d) => d && !d.startsWith('form-action '));
  const sources = ["'self'", ...new Set(targets.map(formTarget).filter((t): t is string => !!t))];
  ctx.set('Content-Security-Policy', [...directives, `form-action ${sources.join(' ')}`].join('; '));
}

/**
 * Headers for every response. The CSP allows no inline script (oidc-provider adds a hash for
 * its own form_post script); pages with forms narrow form-action with setFormCsp.
 */
export function securityHeaders({ https, csp = contentSecurityPolicy() }: { https: boolean; csp?: string }): Middleware {
  const headers: [string, string][] = [
    ['Content-Security-Policy', csp],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    ['Cross-Origin-Resource-Policy', 'same-origin'],
    ...(https ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as [string, string]] : []),
  ];
  // Straight to Node's response: Koa's ctx.set builds three arrays and a closure per call, and
  // this runs first, so no header has been sent yet.
  return function setSecurityHeaders(ctx, next) {
    const { res } = ctx;
    for (const [name, value] of headers) res.setHeader(name, value);
    return next();
  };
}
