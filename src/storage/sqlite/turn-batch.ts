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
   * An answer known already (a cached row), touching no database: settles together with the next
   * batch, or at once, as the batch meter says (`BatchMeter.waits`). The wait keeps requests in
   * step: their next reads and writes meet in fewer, larger batches, and their answers leave
   * together. It pays while batches are full, and while they carry mostly cached answers (a
   * request that runs no statement, e.g. for a JWT access token, would otherwise answer on its
   * own). With small batches of statements, each request meets the next batch through its own
   * lookups anyway, and the wait only costs a turn of the event loop per cached row. See
   * bench/README.md, round eight.
   */
  later<T>(value: T): Promise<T>;
}

/** Items per batch (moving average) from which `later` waits for the batch. */
export const inStepFrom = 20;

/**
 * What a store is asked, as `later` decides by: the moving average of items per batch (about the
 * last 8 batches, reads and writes together), and the share of statements among everything asked
 * (statements and cached answers, whether a cached answer waited or not; about the last 32).
 */
export interface BatchMeter {
  asked(statement: boolean): void;
  ran(items: number): void;
  /**
   * Whether a cached answer should wait for the next batch: while batches are full (`inStepFrom`
   * items or more), or while at most half of what is asked is statements (and before anything
   * was). Otherwise each request meets the next batch through its own statements anyway.
   */
  waits(): boolean;
}

export function createBatchMeter(): BatchMeter {
  let perBatch = 0;
  let statementShare = 0;
  return {
    asked(statement) {
      statementShare += ((statement ? 1 : 0) - statementShare) / 32;
    },
    ran(items) {
      perBatch += (items - perBatch) / 8;
    },
    waits: () => perBatch >= inStepFrom || statementShare <= 0.5,
  };
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
export function createTurnBatch(
  db: Database,
  kind: 'read' | 'write',
  { begin, meter = createBatchMeter() }: { begin?: () => void; meter?: BatchMeter } = {},
): Batched {
  const runAll = db.transaction((batch: Pending[]) => {
    begin?.();
    return batch.map((item) => item.run());
  });
  const runBatch = kind === 'write' ? runAll.immediate : runAll;

  const push = turnQueue<Pending>((batch) => {
    meter.ran(batch.length);
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
  const batched = <T>(run: () => T) => {
    meter.asked(true);
    return enqueue(run, true);
  };
  batched.later = <T>(value: T) => {
    meter.asked(false);
    return meter.waits() ? enqueue(() => value, false) : Promise.resolve(value);
  };
  return batched;
}
