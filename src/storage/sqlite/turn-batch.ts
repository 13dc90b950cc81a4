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
   * batch while batches are large (`inStepFrom`), else at once. With many requests in flight the
   * wait keeps them in step, so their next batched reads and writes meet in fewer, larger batches
   * (answering at once measured 6–11% more CPU per request at 50 connections). With few, batches
   * stay small anyway and the wait only costs a turn of the event loop per cached row (waiting
   * measured 4–7% more CPU at 10 connections). See bench/README.md, round eight.
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
/** Items per batch (moving average) from which `later` waits for the batch. */
export const inStepFrom = 20;

/**
 * How full a store's batches are: the moving average of items per batch, over its read and its
 * write batches together (about the last 8). What `later` decides by.
 */
export interface BatchMeter {
  note(items: number): void;
  /** whether batches average `inStepFrom` items or more */
  full(): boolean;
}

export function createBatchMeter(): BatchMeter {
  let perBatch = 0;
  return {
    note(items) {
      perBatch += (items - perBatch) / 8;
    },
    full: () => perBatch >= inStepFrom,
  };
}

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
    meter.note(batch.length);
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
  batched.later = <T>(value: T) => (meter.full() ? enqueue(() => value, false) : Promise.resolve(value));
  return batched;
}
