import type { Database } from 'better-sqlite3';

import type { CounterEntry, CounterStore } from '../types.js';
import { isStoreKey } from '../lookup-key.js';

interface Row {
  state: string;
  expires_at: number;
}

/**
 * Counters and locks in one table. `update` is a read-modify-write inside BEGIN IMMEDIATE, which
 * holds the database's write lock: parallel updates of a key, from any process, run in turn.
 */
export function createSqliteCounters(db: Database, now: () => number): CounterStore {
  const stmts = {
    get: db.prepare<[string, number], Row>('SELECT state, expires_at FROM counters WHERE key = ? AND expires_at > ?'),
    put: db.prepare(`INSERT INTO counters (key, state, expires_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at`),
    delete: db.prepare('DELETE FROM counters WHERE key = ?'),
  };
  const toEntry = (row: Row | undefined): CounterEntry | undefined =>
    row && { state: JSON.parse(row.state) as Record<string, number>, expiresAt: row.expires_at };

  const update = db.transaction((key: string, change: Parameters<CounterStore['update']>[1]) => {
    const at = now();
    const next = change(toEntry(stmts.get.get(key, at)), at);
    if (next) stmts.put.run(key, JSON.stringify(next.state), next.expiresAt);
    else stmts.delete.run(key);
    return next;
  });

  return {
    async update(key, change) {
      if (!isStoreKey(key)) throw new TypeError('a counter key must be a string of 1 to 1,024 characters');
      return update.immediate(key, change);
    },
    async get(key) {
      return isStoreKey(key) ? toEntry(stmts.get.get(key, now())) : undefined;
    },
    async delete(key) {
      if (isStoreKey(key)) stmts.delete.run(key);
    },
  };
}
