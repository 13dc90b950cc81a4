import type { Database } from 'better-sqlite3';

import { copyJson } from '../copy-json.js';
import type { OidcPayload } from '../types.js';
import type { Batched } from './turn-batch.js';

/** Tables whose rows are cached by id; a trigger counts every change to each (migration 4). */
export type WatchedTable = 'clients' | 'accounts' | 'apis';

/**
 * oidc-provider models whose records are cached by id: read on every userinfo, introspection and
 * refresh, and never changed once written except by a revocation, a consumption or a re-saved
 * grant, each of which moves the model's counter (triggers of migration 12).
 */
export const cachedRecordModels: ReadonlySet<string> = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken', 'Grant']);

export interface RowCache<T> {
  /**
   * The row with this id: the cached one if the change counters were verified within the
   * staleness bound (answered through `read.later`, without a query), else `load()` run in the
   * next read batch and remembered when found. Rows are frozen: every caller shares them.
   */
  find(id: string, load: () => T | undefined): Promise<T | undefined>;
  /** Forgets everything (after a write through this process). */
  clear(): void;
}

/** A stored record as its lookup returns it: the payload (JSON) and when it expires (epoch ms). */
export type RecordRow = [payload: string, expiresAt: number | null];

export interface RecordCache {
  /**
   * Runs inside a read batch, after its `verify()`: a fresh copy of the cached payload, else
   * `load()`'s, remembered. So a lookup answers exactly as the query would in that batch.
   */
  find(id: string, now: number, load: () => RecordRow | undefined): OidcPayload | undefined;
}

export interface ChangeWatch {
  /** Run at the start of every read batch, inside its transaction: drops what has changed since. */
  verify(): void;
  cache<T extends object>(table: WatchedTable, read: Batched): RowCache<T>;
  records(model: string): RecordCache;
}

const maxEntries = 10_000;
/** Records are larger and more numerous than clients or accounts: the hot ones are what counts. */
const maxRecords = 1_000;

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
};

/**
 * Each process keeps rows it read, and every read batch first reads the change counters (bumped
 * by triggers on writes, from any process or connection) and drops the cached rows of whatever
 * moved.
 *
 * - Clients, accounts and APIs (read on most requests, changed rarely): a cached row is served
 *   (through `read.later`, without a query) only if a batch verified the counters within
 *   `maxStaleMs`; under load that is always the case, and an idle process asks the database
 *   again. So a change made through this process applies at once, and one made by another
 *   process (the CLI, another worker) within `maxStaleMs`.
 * - Tokens and grants (`cachedRecordModels`): looked up inside the batch, after its check, so a
 *   lookup sees every change committed before its batch began, from any process, as the query
 *   would. What it saves is the query and the JSON parse; the payload is copied, since
 *   oidc-provider changes the records it finds.
 */
export function createChangeWatch(db: Database, { now, maxStaleMs }: { now: () => number; maxStaleMs: number }): ChangeWatch {
  // Counters only grow, so their sum moves whenever any of them does: one number per batch, and
  // the counters one by one only when it moved.
  const total = db.prepare<[], number>('SELECT sum(n) FROM change_counters').pluck();
  const counters = db.prepare<[], [string, number]>('SELECT name, n FROM change_counters').raw();
  const hasCounter = db.prepare<[string], number>('SELECT 1 FROM change_counters WHERE name = ?').pluck();
  const seenByName = new Map<string, number>();
  const caches = new Map<string, Map<string, unknown>>();
  const recordCaches = new Map<string, RecordCache>();
  let seen = -1;
  let verifiedAt = Number.NEGATIVE_INFINITY;

  const register = (counter: string) => {
    const rows = new Map<string, unknown>();
    caches.set(counter, rows);
    return rows;
  };

  return {
    verify() {
      const sum = total.get() ?? -1;
      if (sum !== seen) {
        seen = sum;
        for (const [name, n] of counters.all()) {
          if (seenByName.get(name) !== n) {
            seenByName.set(name, n);
            caches.get(name)?.clear();
          }
        }
      }
      verifiedAt = now();
    },
    cache<T extends object>(table: WatchedTable, read: Batched): RowCache<T> {
      const rows = register(table);
      return {
        find(id, load) {
          const cached = now() - verifiedAt <= maxStaleMs ? (rows.get(id) as T | undefined) : undefined;
          if (cached) return read.later(cached);
          return read(() => {
            const row = load();
            if (row === undefined) return undefined;
            if (rows.size >= maxEntries) rows.clear();
            rows.set(id, deepFreeze(row));
            return row;
          });
        },
        clear: () => rows.clear(),
      };
    },
    records(model: string): RecordCache {
      const counter = `oidc:${model}`;
      const known = recordCaches.get(counter);
      if (known) return known;
      if (!cachedRecordModels.has(model) || !hasCounter.get(counter)) throw new TypeError(`${model} records have no change counter`);
      const rows = register(counter) as Map<string, { payload: OidcPayload; expiresAt: number | null }>;
      const cache: RecordCache = {
        find(id, at, load) {
          let entry = rows.get(id);
          if (entry !== undefined) {
            rows.delete(id); // (set again below: a Map keeps insertion order, so this one is now the newest)
            if (entry.expiresAt !== null && entry.expiresAt <= at) return undefined;
          } else {
            const row = load();
            if (row === undefined) return undefined;
            entry = { payload: JSON.parse(row[0]) as OidcPayload, expiresAt: row[1] };
            // the least recently read out first: what is read again and again stays
            if (rows.size >= maxRecords) rows.delete(rows.keys().next().value!);
          }
          rows.set(id, entry);
          return copyJson(entry.payload) as OidcPayload;
        },
      };
      recordCaches.set(counter, cache);
      return cache;
    },
  };
}
