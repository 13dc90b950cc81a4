import type { Database } from 'better-sqlite3';

/** How long a connection waits for another's write lock (SQLite's busy_timeout, and the WAL switch below). */
export const busyTimeoutMs = 5000;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Puts the database in WAL mode. On a new file, switching reads the header and then takes the
 * write lock, and SQLite never waits for a lock it would take after a read (busy_timeout is
 * skipped, to rule out deadlocks): a second process creating the same file at the same moment got
 * "database is locked" at once and failed to start. The switch is tried again, a few ms apart,
 * until the busy timeout. Synchronous like the rest of opening a store: it runs once, at start.
 */
export function useWal(db: Database): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      Atomics.wait(pause, 0, 0, 5 + Math.random() * 20);
    }
  }
}
