import { randomUUID } from 'node:crypto';
import type { Middleware, ParameterizedContext } from 'koa';
import type { Logger } from 'pino';

import { releaseAfterResponse } from './release-request.js';

/** Called once per request when it ends (the metrics recorder). */
export type RequestRecorder = (ctx: ParameterizedContext, seconds: number) => void;

/**
 * The outermost middleware: gives each request an id (echoed as X-Request-Id), times it, records
 * it (metrics), writes one log line when it ends, and lets go of it once answered
 * (release-request.ts). One layer for all of it: every async layer costs promises on each request.
 */
export function observeRequests(logger: Logger, record: RequestRecorder): Middleware {
  return async function observeRequest(ctx, next) {
    const started = performance.now();
    const requestId = randomUUID();
    ctx.state.requestId = requestId;
    ctx.res.setHeader('X-Request-Id', requestId); // (Koa's ctx.set allocates three arrays a call)
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      record(ctx, seconds);
      if (logger.isLevelEnabled('info')) {
        // The path only: query strings can carry codes and tokens.
        const ms = Math.round(seconds * 1e4) / 10;
        logger.info({ requestId, method: ctx.method, path: ctx.path, status: ctx.res.statusCode, ms }, 'request');
      }
      releaseAfterResponse(ctx);
    }
  };
}
