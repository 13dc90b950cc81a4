import type { CounterEntry, CounterStore } from '../types.js';
import { isStoreKey } from '../lookup-key.js';
import type { Db } from './db.js';

interface Row {
  state: Record<string, number>;
  expires_at: number;
}

/**
 * A counter key as stored: TEXT cannot hold NUL, and keys are built from what clients send (a
 * login name), so NUL and the escape character are escaped (one key, one stored value).
 */
const stored = (key: string) => (/[\0\\]/.test(key) ? key.replace(/\\/g, '\\\\').replace(/\0/g, '\\0') : key);

const sql = {
  get: 'SELECT state, expires_at FROM counters WHERE key = $1 AND expires_at > $2',
  // Takes the row lock, making the row first if there is none (expired at 0: not live): parallel
  // updates of one key, from any node, wait here for the one before to commit.
  lock: `INSERT INTO counters (key, state, expires_at) VALUES ($1, '{}', 0)
    ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING state, expires_at`,
  put: 'UPDATE counters SET state = $2, expires_at = $3 WHERE key = $1',
  delete: 'DELETE FROM counters WHERE key = $1',
  sweep: `DELETE FROM counters c USING (
      SELECT key FROM counters WHERE expires_at <= $1 LIMIT 500 FOR UPDATE SKIP LOCKED
    ) expired WHERE c.key = expired.key`,
};

const live = (row: Row | undefined, at: number): CounterEntry | undefined =>
  row && row.expires_at > at ? { state: row.state, expiresAt: row.expires_at } : undefined;

/** Counters and locks, one row each; `update` is a read-modify-write under the row's lock. */
export function createPgCounters(db: Db, now: () => number): CounterStore & { sweep(): Promise<number> } {
  return {
    async update(key, change) {
      if (!isStoreKey(key)) throw new TypeError('a counter key must be a string of 1 to 1,024 characters');
      const k = stored(key);
      return db.tx(async (client) => {
        const { rows } = await client.query<Row>(sql.lock, [k]);
        const at = now();
        const next = change(live(rows[0], at), at);
        if (next) await client.query(sql.put, [k, JSON.stringify(next.state), next.expiresAt]);
        else await client.query(sql.delete, [k]);
        return next;
      });
    },
    async get(key) {
      return isStoreKey(key) ? live((await db.query<Row>(sql.get, [stored(key), now()])).rows[0], now()) : undefined;
    },
    async delete(key) {
      if (isStoreKey(key)) await db.query(sql.delete, [stored(key)]);
    },
    async sweep() {
      let total = 0;
      for (let i = 0; i < 1000; i += 1) {
        const { rowCount } = await db.query(sql.sweep, [now()]);
        total += rowCount;
        if (rowCount < 500) break;
      }
      return total;
    },
  };
}
