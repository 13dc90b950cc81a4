import { createHash } from 'node:crypto';

import type { CounterStore, OidcModelStore } from '../storage/types.js';
import { badRequest, conflict, unprocessable } from './problem.js';
import type { RouteResult } from './routes.js';

const keepSeconds = 24 * 3600;
const keyPattern = /^[\x21-\x7E]{1,255}$/;

/**
 * Idempotency-Key on creates (draft-ietf-httpapi-idempotency-key-header): the first request with a
 * key (per client) runs and its answer is kept for 24 hours; a repeat with the same request gets
 * that answer again, a repeat with another request 422, one while the first still runs 409.
 * Claiming a key is one atomic step in the store, so parallel repeats on any nodes create one object.
 * A request that fails keeps nothing: it may be retried with the same key.
 */
export function createIdempotency({ counters, records }: { counters: CounterStore; records: OidcModelStore }) {
  return async function once(clientId: string, key: string, request: unknown, run: () => Promise<RouteResult>, keep: (result: RouteResult) => RouteResult = (r) => r): Promise<RouteResult> {
    if (!keyPattern.test(key)) throw badRequest('Idempotency-Key must be 1-255 visible ASCII characters');
    const id = createHash('sha256').update(`${clientId}\0${key}`).digest('base64url');
    const fingerprint = createHash('sha256').update(JSON.stringify(request)).digest('base64url');
    let first = false;
    await counters.update(`idempotency:${id}`, (current, at) => {
      first = current === undefined;
      return current ?? { state: { claimed: 1 }, expiresAt: at + keepSeconds * 1000 };
    });
    if (!first) {
      const saved = (await records.find(id)) as { fingerprint?: string; result?: RouteResult } | undefined;
      if (!saved?.result) throw conflict('a request with this Idempotency-Key is still being processed; retry shortly');
      if (saved.fingerprint !== fingerprint) throw unprocessable('this Idempotency-Key was used for a different request');
      return saved.result;
    }
    let result: RouteResult;
    try {
      result = await run();
    } catch (err) {
      await counters.delete(`idempotency:${id}`);
      throw err;
    }
    await records.upsert(id, { fingerprint, result: keep(result) as unknown as Record<string, unknown> }, keepSeconds);
    return result;
  };
}
