import type { Database } from 'better-sqlite3';

import type { Batched } from './turn-batch.js';

/** Tables whose rows are cached by id; a trigger counts every change to each (migration 4). */
export type WatchedTable = 'clients' | 'accounts' | 'apis';

export interface RowCache<T> {
  /**
   * The row with this id: the cached one if the change counters were verified within the
   * staleness bound (answered with the next read batch), else `load()` run in that batch and
   * remembered when found. Rows are frozen: every caller shares them.
   */
  find(id: string, load: () => T | undefined): Promise<T | undefined>;
  /** Forgets everything (after a write through this process). */
  clear(): void;
}

export interface ChangeWatch {
  /** Run at the start of every read batch, inside its transaction: drops what has changed since. */
  verify(): void;
  cache<T extends object>(table: WatchedTable, read: Batched): RowCache<T>;
}

const maxEntries = 10_000;

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
};

/**
 * Clients, accounts and APIs are read on most requests (userinfo, every client authentication,
 * every token for an API) and change rarely. Each process keeps the rows it read, and every read
 * batch first reads the change counters (bumped by triggers on any write, from any process or
 * connection) and drops the cached rows when they moved. A cached row is served (with the next
 * batch, but without a query) only if a batch verified the counters within `maxStaleMs`; under
 * load that is always the case, and an idle process asks the database again. So a change made
 * through this process applies at once, and one made by another process (the CLI, another
 * worker) within `maxStaleMs`.
 */
export function createChangeWatch(db: Database, { now, maxStaleMs }: { now: () => number; maxStaleMs: number }): ChangeWatch {
  // Counters only grow, so their sum moves whenever any of them does: one number per batch.
  const changes = db.prepare<[], number>('SELECT sum(n) FROM change_counters').pluck();
  const caches = new Map<WatchedTable, Map<string, object>>();
  let seen = -1;
  let verifiedAt = Number.NEGATIVE_INFINITY;

  return {
    verify() {
      const sum = changes.get();
      if (sum !== seen) {
        seen = sum ?? -1;
        for (const rows of caches.values()) rows.clear(); // writes to these tables are rare: drop all
      }
      verifiedAt = now();
    },
    cache<T extends object>(table: WatchedTable, read: Batched): RowCache<T> {
      const rows = new Map<string, object>();
      caches.set(table, rows);
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
  };
}
