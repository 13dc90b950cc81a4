import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import pg from 'pg';

/** Tables whose rows each process caches; a trigger announces every change to them (migration 2). */
export type WatchedTable = 'clients' | 'accounts' | 'apis';
const watched: WatchedTable[] = ['clients', 'accounts', 'apis'];

export const changeChannel = 'idport_changes';

export interface RowCache<T> {
  /** The cached row, or `load()`'s (remembered when found and nothing changed meanwhile). Rows are frozen: callers share them. */
  find(id: string, load: () => Promise<T | undefined>): Promise<T | undefined>;
  /** Forgets the table's rows (after a write through this process). */
  clear(): void;
}

export interface ChangeFeed {
  cache<T extends object>(table: WatchedTable): RowCache<T>;
  close(): Promise<void>;
}

const maxEntries = 10_000;

interface Entry {
  row: object;
  /** performance.now() when it was read from the database */
  at: number;
}

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
};

/**
 * Clients, accounts and APIs are read on most requests and change rarely. Each process keeps the
 * rows it read; a trigger NOTIFYs `idport_changes` with the table's name on every write (from any
 * node, the CLI, or psql), and one connection of this process LISTENs and drops that table's rows.
 *
 * A cached row is served only while the feed can prove it is current: every `pingMs` the listener
 * notifies the channel itself, and PostgreSQL delivers a channel's notifications in commit order,
 * so once its own ping comes back, every change committed before that ping was sent has been seen.
 * A row is served from the cache only if such a ping, sent within the last `maxStaleMs`, came back;
 * otherwise (listener down, slow, reconnecting, store closed) every lookup reads the database. So
 * a change applies at once in the process that made it and within `maxStaleMs` everywhere else.
 * Writes that bypass triggers (session_replication_role = replica, a restore) are not announced.
 *
 * Whatever the feed believes, no row is served from the cache once it is `maxEntryAgeMs` old: a
 * listener behind a transaction pooler (PgBouncer `pool_mode = transaction`) may have its LISTEN
 * on a server connection that other clients borrow, so its own pings can come back while other
 * notifications went to whoever held that connection. Then a change still applies within
 * `maxEntryAgeMs`, as does a change written with triggers off.
 */
export function createChangeFeed(config: pg.ClientConfig, { maxStaleMs = 1000, pingMs = 250, maxEntryAgeMs = 10_000 } = {}): ChangeFeed {
  const me = randomUUID();
  const caches = new Map<WatchedTable, Map<string, Entry>>(watched.map((t) => [t, new Map()]));
  const generation = new Map<WatchedTable, number>(watched.map((t) => [t, 0]));
  const pingsSent = new Map<number, number>();
  let confirmedAt = Number.NEGATIVE_INFINITY;
  let seq = 0;
  let connectedAt = 0;
  let client: pg.Client | undefined;
  let closed = false;
  let pingTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const forget = (table: WatchedTable) => {
    caches.get(table)!.clear();
    generation.set(table, generation.get(table)! + 1);
  };
  const forgetAll = () => watched.forEach(forget);
  const current = () => performance.now() - confirmedAt <= maxStaleMs;

  const onNotification = ({ channel, payload }: pg.Notification) => {
    if (channel !== changeChannel || !payload) return;
    if (payload.startsWith(`ping:${me}:`)) {
      const n = Number(payload.slice(me.length + 6));
      const sentAt = pingsSent.get(n);
      if (sentAt !== undefined) confirmedAt = Math.max(confirmedAt, sentAt);
      for (const k of pingsSent.keys()) if (k <= n) pingsSent.delete(k);
    } else if ((watched as string[]).includes(payload)) {
      forget(payload as WatchedTable);
    }
  };

  const disconnected = () => {
    confirmedAt = Number.NEGATIVE_INFINITY;
    forgetAll();
    clearInterval(pingTimer);
    const broken = client;
    client = undefined;
    broken?.removeAllListeners('notification');
    void broken?.end().catch(() => undefined);
    if (!closed) retryTimer = setTimeout(connect, 1000).unref();
  };

  const ping = () => {
    const c = client;
    if (!c) return;
    // a connection that stopped answering without closing: start over
    const now = performance.now();
    if (now - connectedAt > 10_000 && now - Math.max(confirmedAt, connectedAt) > 10_000) return disconnected();
    seq += 1;
    pingsSent.set(seq, performance.now());
    c.query('SELECT pg_notify($1, $2)', [changeChannel, `ping:${me}:${seq}`]).catch(() => undefined);
  };

  async function connect() {
    if (closed) return;
    const c = new pg.Client({ ...config, application_name: 'idport-change-feed' });
    c.on('error', () => undefined);
    c.on('end', () => client === c && disconnected());
    try {
      await c.connect();
      c.on('notification', onNotification);
      await c.query(`LISTEN ${changeChannel}`);
    } catch {
      void c.end().catch(() => undefined);
      if (!closed) retryTimer = setTimeout(connect, 1000).unref();
      return;
    }
    if (closed) return void c.end().catch(() => undefined);
    client = c;
    connectedAt = performance.now();
    forgetAll(); // whatever changed while nobody listened
    ping();
    pingTimer = setInterval(ping, pingMs).unref();
  }
  void connect();

  return {
    cache<T extends object>(table: WatchedTable): RowCache<T> {
      const rows = caches.get(table)!;
      return {
        async find(id, load) {
          if (current()) {
            const hit = rows.get(id);
            if (hit && performance.now() - hit.at <= maxEntryAgeMs) return hit.row as T;
          }
          const before = generation.get(table);
          const at = performance.now();
          const row = await load();
          // remembered only if no change of the table was announced while it was read
          if (row !== undefined && current() && generation.get(table) === before) {
            if (rows.size >= maxEntries) rows.clear();
            rows.set(id, { row: deepFreeze(row), at });
          }
          return row;
        },
        clear: () => forget(table),
      };
    },
    async close() {
      closed = true;
      confirmedAt = Number.NEGATIVE_INFINITY;
      forgetAll();
      clearInterval(pingTimer);
      clearTimeout(retryTimer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
