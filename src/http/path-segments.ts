import type { Middleware } from 'koa';

/** The stack as one middleware: each layer's `next` is the rest of the stack, then the caller's. */
const chain = (stack: readonly Middleware[]): Middleware =>
  stack.reduceRight<Middleware>(
    (rest, layer) => (ctx, next) => layer(ctx, () => rest(ctx, next) as Promise<void>),
    (_ctx, next) => next(),
  );

/** A path's first segment: `/device` for `/device/abc`, `/jwks` for `/jwks`, `/` for `/`. */
export function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path : path.slice(0, end);
}

/**
 * Middleware that each serve one first path segment (`/account`, `/device`, `/.well-known`…) as
 * one layer: a request runs only the stack of its own segment, found with one Map lookup, and
 * the provider's endpoints (`/token`, `/me`, …) pass straight through. Each stack keeps its own
 * checks of the exact path; the segment only decides which stack may see the request.
 */
export function bySegment(stacks: Iterable<readonly [segment: string, middleware: readonly Middleware[]]>): Middleware {
  const bySeg = new Map<string, Middleware>();
  for (const [segment, middleware] of stacks) {
    if (!/^\/[^/]*$/.test(segment)) throw new Error(`bySegment: "${segment}" is not a first path segment`);
    const all = [...(bySeg.has(segment) ? [bySeg.get(segment)!] : []), ...middleware];
    if (all.length) bySeg.set(segment, all.length === 1 ? all[0]! : chain(all));
  }
  return function servePathSegment(ctx, next) {
    const stack = bySeg.get(firstSegment(ctx.path));
    return stack ? stack(ctx, next) : next();
  };
}
