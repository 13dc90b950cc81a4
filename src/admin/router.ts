import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import type { z } from 'zod';

import type { Audit } from '../audit.js';
import { noStore } from '../http/no-cache.js';
import { clientAddressKey } from '../limits/client-address.js';
import { countHit } from '../limits/fixed-window.js';
import type { CounterStore, OidcModelStore } from '../storage/types.js';
import type { AdminCaller, AdminTokens } from './access-token.js';
import { createIdempotency } from './idempotency.js';
import { createWriteLeases } from './write-lease.js';
import { openApiDocument } from './openapi.js';
import { badRequest, Problem } from './problem.js';
import { adminPrefix } from './admin-api.js';
import { readJson } from './request-body.js';
import { routerPath, type AdminRoute } from './routes.js';


export interface AdminRouterDeps {
  issuer: string;
  routes: AdminRoute[];
  tokens: AdminTokens;
  counters: CounterStore;
  /** where Idempotency-Key answers are kept */
  idempotencyRecords: OidcModelStore;
  requestsPerMinute: number;
  audit: Audit;
  logger: Logger;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? (where === 'body' ? {} : value));
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw badRequest(`the ${where} is not acceptable: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}

/** Every answer under the prefix is JSON: problems for errors (never a stack), 503 for a store outage. */
function answerProblems(logger: Logger): Middleware {
  return async function adminProblems(ctx, next) {
    noStore(ctx);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new Problem(404, 'Not Found', 'no such admin API resource');
    } catch (caught) {
      let problem: Problem;
      const err = caught as { code?: string; status?: number; expose?: boolean; message?: string };
      if (caught instanceof Problem) problem = caught;
      else if (err.code === 'ERR_STORE_UNAVAILABLE') problem = new Problem(503, 'Service Unavailable', 'the store is unavailable; retry shortly', {}, { 'retry-after': '5' });
      else if (err.status === 405) problem = new Problem(405, 'Method Not Allowed', err.message ?? 'method not allowed');
      else {
        logger.error({ err: caught, requestId: ctx.state.requestId }, 'admin API request failed');
        problem = new Problem(500, 'Internal Server Error', 'the server could not complete the request');
      }
      ctx.status = problem.status;
      for (const [name, value] of Object.entries(problem.headers)) ctx.set(name, value);
      ctx.type = 'application/problem+json';
      ctx.body = problem.body(ctx.path);
    }
  };
}

/**
 * The admin API: each route of the table behind the token check for its scope, the request
 * validated by its schemas, creates made idempotent, every call audited with the calling client.
 */
export function createAdminRouter({ issuer, routes, tokens, counters, idempotencyRecords, requestsPerMinute, audit, logger }: AdminRouterDeps): Middleware {
  const router = new Router({ prefix: adminPrefix });
  const document = openApiDocument(routes, issuer);
  const once = createIdempotency({ counters, records: idempotencyRecords });
  const exclusive = createWriteLeases(counters);
  const origin = new URL(issuer).origin;

  router.get('/openapi.json', (ctx) => {
    ctx.body = document;
  });

  for (const r of routes) {
    router[r.method](routerPath(r.path), async (ctx: Context) => {
      let caller: AdminCaller | undefined;
      try {
        caller = await tokens({ method: ctx.method, url: `${origin}${ctx.path}`, authorization: ctx.get('authorization') || undefined, dpopProof: ctx.get('dpop') || undefined }, r.scope);
        const params = parse(r.params, ctx.params, 'path');
        const query = parse(r.query, { ...ctx.query }, 'query');
        const rawBody = r.body ? await readJson(ctx) : undefined;
        const body = parse(r.body, rawBody, 'body');
        const input = { params, query, body, caller, ifMatch: ctx.get('if-match') || undefined } as never;
        const key = ctx.get('idempotency-key');
        const handle = () => r.handle(input);
        const result = r.idempotent && key
          ? await once(caller.clientId, key, { path: ctx.path, body: rawBody }, handle, r.keepForRepeats)
          : changesOne(r)
            ? await exclusive(resourceOf(ctx.path), handle) // If-Match's check and the write, as one step
            : await handle();
        ctx.status = result.status;
        if (result.etag) ctx.set('ETag', result.etag);
        if (result.location) ctx.set('Location', `${adminPrefix}${result.location}`);
        if (result.body !== undefined) ctx.body = result.body;
        audit('admin.call', { outcome: 'success', client_id: caller.clientId, ip: ctx.ip, operation: r.operationId, status: result.status });
      } catch (err) {
        const status = err instanceof Problem ? err.status : 500;
        audit('admin.call', { outcome: status === 401 || status === 403 ? 'denied' : 'failure', client_id: caller?.clientId, ip: ctx.ip, operation: r.operationId, status });
        throw err;
      }
    });
  }

  const limit: Middleware = async function limitAdminRequests(ctx, next) {
    const verdict = await countHit(counters, `admin:${clientAddressKey(ctx.ip)}`, { limit: requestsPerMinute, windowSeconds: 60 });
    if (!verdict.allowed) throw new Problem(429, 'Too Many Requests', 'too many admin API requests from this address; slow down', {}, { 'retry-after': String(verdict.retryAfter) });
    await next();
  };

  return inOrder([answerProblems(logger), limit, router.routes() as Middleware, router.allowedMethods({ throw: true }) as Middleware]);
}

/** A change to one resource (or one of its sub-resources): any method but GET on a path with an id. */
const changesOne = (r: AdminRoute): boolean => r.method !== 'get' && r.path.includes('{');

/** `/users/{id}` of `/admin/v1/users/{id}/sessions/…`: what a change takes its lease on. */
const resourceOf = (path: string): string => path.slice(adminPrefix.length).split('/').slice(0, 3).join('/');

/** Middleware run one inside the next, as Koa would. */
const inOrder = (stack: Middleware[]): Middleware =>
  function adminApi(ctx, next) {
    const run = (i: number): Promise<unknown> => (i === stack.length ? next() : Promise.resolve(stack[i]!(ctx, () => run(i + 1))));
    return run(0);
  };
