import type { Database } from 'better-sqlite3';

import { turnQueue } from '../turn-queue.js';
import { asStoreError } from './outage.js';

interface Pending {
  run(): unknown;
  /** false for `later` values: a batch of only those needs no transaction */
  sql: boolean;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface Batched {
  /** Runs a statement in the next batch; the promise settles with what it returned. */
  <T>(run: () => T): Promise<T>;
  /**
   * Settles with `value` together with the next batch, touching no database: for an answer known
   * already (a cached row). Answering at once instead measured slower on every token endpoint:
   * requests that skip the wait reach their next batched read or write out of step with the
   * others, so batches get smaller and more of them run.
   */
  later<T>(value: T): Promise<T>;
}

/**
 * Statements asked for during one turn of the event loop run together, in one transaction, on the
 * next (setImmediate), in the order they were asked for; each caller's promise settles after that
 * transaction with what its statement returned. If the batch fails, its statements run again one
 * by one, so only the bad one fails (a database outage as StoreUnavailableError).
 *
 * - `write` (group commit): BEGIN IMMEDIATE. A caller that awaited its write can rely on it, on
 *   this node and on every other; many small commits (each costs WAL frames and lock calls)
 *   become a few larger ones. A conditional write (consume) sees every write queued before it.
 * - `read`: a deferred (read) transaction. In WAL mode every transaction takes and drops a read
 *   lock on the shared index with two fcntl() calls; one pair now covers the lookups of several
 *   requests. A read sees the database as of its batch, never older than when it was asked for,
 *   so a caller that awaited its own write reads it back.
 *
 * `begin` runs first inside each batch's transaction (the read batch verifies cached rows there).
 */
export function createTurnBatch(db: Database, kind: 'read' | 'write', { begin }: { begin?: () => void } = {}): Batched {
  const runAll = db.transaction((batch: Pending[]) => {
    begin?.();
    return batch.map((item) => item.run());
  });
  const runBatch = kind === 'write' ? runAll.immediate : runAll;

  const push = turnQueue<Pending>((batch) => {
    if (!batch.some((item) => item.sql)) {
      for (const item of batch) item.resolve(item.run());
      return;
    }
    let results: unknown[];
    try {
      results = runBatch(batch);
    } catch {
      for (const item of batch) {
        try {
          item.resolve(item.run());
        } catch (err) {
          item.reject(asStoreError(err));
        }
      }
      return;
    }
    batch.forEach((item, i) => item.resolve(results[i]));
  });

  const enqueue = <T>(run: () => T, sql: boolean) =>
    new Promise<T>((resolve, reject) => push({ run, sql, resolve: resolve as (value: unknown) => void, reject }));
  const batched = <T>(run: () => T) => enqueue(run, true);
  batched.later = <T>(value: T) => enqueue(() => value, false);
  return batched;
}
