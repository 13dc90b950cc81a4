import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';

/** A kept answer: the exact bytes oidc-provider sent, and what describes them. */
interface Prepared {
  body: Buffer;
  type: string;
  etag: string;
}

/** If-None-Match's list (weak comparison: W/ ignored) holds this ETag, or is `*`. */
const matches = (ifNoneMatch: string, etag: string): boolean =>
  ifNoneMatch !== '' && ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });

export interface PreparedPath {
  path: string;
  /** Cache-Control max-age in seconds */
  maxAge: number;
}

/**
 * Discovery and JWKS change only with the configuration (read at start) and the signing keys (the
 * provider is rebuilt when they change, and with it this middleware). So the first 200 answer of
 * each path (per request origin: see below) is kept, byte for byte as oidc-provider rendered it, and every later GET or HEAD gets
 * those bytes without reaching the provider's router: with an ETag (If-None-Match answers 304),
 * Cache-Control, and the same CORS headers oidc-provider's open CORS sets (any origin: these are
 * public documents).
 */
export function preparedResponses(paths: PreparedPath[]): Middleware {
  const maxAge = new Map(paths.map((p) => [p.path, p.maxAge]));
  const kept = new Map<string, Prepared>();

  const send = (ctx: Parameters<Middleware>[0], prepared: Prepared, age: number) => {
    ctx.vary('Origin');
    ctx.set('Access-Control-Allow-Origin', ctx.get('Origin') || '*');
    ctx.set('Cache-Control', `public, max-age=${age}`);
    ctx.set('ETag', prepared.etag);
    // RFC 9110 §13.1.2: the origin answers If-None-Match itself, whatever the request's
    // Cache-Control says to caches (fetch() adds no-cache to conditional requests)
    if (matches(ctx.get('If-None-Match'), prepared.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    ctx.type = prepared.type;
    ctx.body = prepared.body;
  };

  return async function servePrepared(ctx, next) {
    const age = maxAge.get(ctx.path);
    if (age === undefined || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    // oidc-provider writes its endpoint URLs from the request's origin: the Host is pinned to the
    // issuer's, but behind a trusted proxy the scheme follows X-Forwarded-Proto. One copy each.
    const key = `${ctx.protocol}:${ctx.path}`;
    const prepared = kept.get(key);
    if (prepared) return send(ctx, prepared, age);

    await next();
    const { body } = ctx;
    if (ctx.status !== 200 || body === null || typeof body !== 'object' || Buffer.isBuffer(body) || typeof (body as { pipe?: unknown }).pipe === 'function') return;
    // Koa would send JSON.stringify(body): the same bytes, made once
    const bytes = Buffer.from(JSON.stringify(body));
    const made = { body: bytes, type: ctx.response.get('Content-Type') || 'application/json; charset=utf-8', etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"` };
    kept.set(key, made);
    send(ctx, made, age);
  };
}
