import type { Middleware, ParameterizedContext } from 'koa';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

import { noStore } from './no-cache.js';
import { Timings } from './timings.js';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Routes we label metrics with: a fixed set, so label cardinality stays bounded. */
export function routeLabels({ interactionPrefix }: { interactionPrefix: string }): (path: string) => string {
  const interaction = `^${escape(interactionPrefix)}\\/[^/]+`;
  const routes: [RegExp, string][] = [
    [/^\/\.well-known\/openid-configuration$/, 'discovery'],
    [/^\/jwks$/, 'jwks'],
    [/^\/token$/, 'token'],
    [/^\/token\/introspection$/, 'introspection'],
    [/^\/token\/revocation$/, 'revocation'],
    [/^\/me$/, 'userinfo'],
    [/^\/auth(\/[^/]+)?$/, 'authorization'],
    [/^\/session\/end/, 'end_session'],
    [new RegExp(`${interaction}\\/login$`), 'interaction_login'],
    [new RegExp(`${interaction}\\/consent$`), 'interaction_consent'],
    [new RegExp(`${interaction}\\/abort$`), 'interaction_abort'],
    [new RegExp(`${interaction}$`), 'interaction'],
    [/^\/(healthz|readyz|metrics)$/, 'ops'],
    [/^\/account(\/|$)/, 'account'],
    [/^\/device/, 'device'],
    [/^\/assets\//, 'assets'],
  ];
  return (path) => routes.find(([re]) => re.test(path))?.[1] ?? 'other';
}

/** Every idport metric, in one registry per process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'idport_' });
  const backchannelLogouts = new Counter({
    name: 'idport_backchannel_logout_deliveries_total',
    help: 'back-channel logout tokens by final outcome: delivered (2xx), failed (refused: another 3xx/4xx, or the client lost its URI), gave_up (no 2xx within backchannelLogout.retryForSeconds, queue full, or shutdown)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  // Every outcome is a series from the start (0), so a rate over it is never "no data".
  for (const outcome of ['delivered', 'failed', 'gave_up']) backchannelLogouts.inc({ outcome }, 0);
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  // timed on every request and every store call: src/http/timings.ts, not prom-client's Histogram
  const requests = new Timings('idport_http_request_duration_seconds', 'HTTP request latency', ['route', 'method', 'status'], buckets, registry);
  requests.counter('idport_http_requests_total', 'HTTP requests', registry);
  return {
    registry,
    /** latency and count by route, method and status */
    requests,
    tokens: new Counter({ name: 'idport_tokens_issued_total', help: 'token endpoint successes by grant type', labelNames: ['grant_type'], registers: [registry] }),
    logins: new Counter({ name: 'idport_logins_total', help: 'login attempts by outcome (success, failure, locked, busy)', labelNames: ['outcome'], registers: [registry] }),
    passwordChecks: new Counter({
      name: 'idport_password_checks_total',
      help: 'password checks at sign-in: account (a real account), unknown (argon2 against a dummy hash), unknown_skipped (past the budget: a wait, no hashing)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    backchannelLogouts,
    store: new Timings('idport_store_operation_duration_seconds', 'store operation latency', ['model', 'op'], buckets, registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Counts and times a finished request (given to observeRequests, so it sees the final status). */
export function requestRecorder(metrics: Metrics, routeOf: (path: string) => string) {
  return function recordRequest(ctx: ParameterizedContext, seconds: number): void {
    metrics.requests.observe([routeOf(ctx.path), ctx.method, String(ctx.res.statusCode)], seconds);
  };
}

/** GET /metrics in Prometheus text format. */
export function serveMetrics(registry: Registry): Middleware {
  return function metricsEndpoint(ctx, next) {
    if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
    noStore(ctx);
    ctx.type = registry.contentType;
    return registry.metrics().then((text) => {
      ctx.body = text;
    });
  };
}
