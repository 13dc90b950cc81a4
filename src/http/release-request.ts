import type { ParameterizedContext } from 'koa';

/**
 * Lets go of a finished request that went through one of oidc-provider's routes, once its
 * response has closed.
 *
 * Why: oidc-provider gives each such request its own `ctx.oidc` getter, a closure made for that
 * request (`Object.defineProperty` in its ensureOIDC). V8 allocates an accessor's getter/setter
 * pair in the old generation, so when the request is over, that dead pair still holds the closure,
 * and through it the whole request (the context, Node's request and response, their headers, the
 * models found), through every young-generation collection until the next full one. Each
 * collection copies all of it again, and the second promotes it. Measured at 2,000 userinfo or
 * introspection requests a second (`node bench/gc.mjs`): about 7.5 KB promoted per request, and
 * 3–4 ms collections (bench/README.md, round seven). The pair cannot be reached from here, so
 * what it leads to is emptied instead: the context's links to the request, and what oidc-provider
 * found and parsed for it (the models, the parameters, the body).
 *
 * When: on the response's 'close' (it has been written, or the connection is gone), registered
 * from the outermost middleware after the whole chain has returned. Koa writes the response after
 * that, synchronously, so before any 'close'. Koa's own listener (on-finished) fires on the
 * response's 'finish' or the socket's 'error', both before 'close', or on the socket's 'close',
 * after this one but then with no error, when it does not touch the context.
 */
export function releaseAfterResponse(ctx: ParameterizedContext): void {
  if (!Object.hasOwn(ctx, 'oidc')) return; // none of oidc-provider's routes ran: nothing old holds it
  ctx.res.once('close', () => release(ctx));
}

function release(ctx: ParameterizedContext): void {
  const { oidc } = ctx as unknown as { oidc?: { entities?: object; params?: unknown; body?: unknown } };
  if (oidc) {
    oidc.entities = {};
    oidc.params = oidc.body = undefined;
  }
  const links = ctx as unknown as Record<'req' | 'res' | 'request' | 'response' | 'state', unknown>;
  links.req = links.res = links.request = links.response = links.state = undefined;
}
