import type { Database } from 'better-sqlite3';

interface Pending {
  read(): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export type BatchedRead = <T>(read: () => T) => Promise<T>;

/**
 * Reads queued during one turn of the event loop run together, in one read transaction, on the
 * next (setImmediate). In WAL mode every transaction takes and drops a read lock on the shared
 * index with two fcntl() calls; under load one pair now covers the lookups of several requests.
 * A read sees the database as of its batch, never older than when it was asked for, so a caller
 * that awaited its own write reads it back.
 */
export function createReadBatch(db: Database): BatchedRead {
  let queue: Pending[] = [];
  const readAll = db.transaction((batch: Pending[]) => batch.map((item) => item.read()));

  const flush = () => {
    const batch = queue;
    queue = [];
    let results: unknown[];
    try {
      results = readAll(batch);
    } catch {
      // One read failed: run them one by one, so only that one fails.
      for (const item of batch) {
        try {
          item.resolve(item.read());
        } catch (err) {
          item.reject(err);
        }
      }
      return;
    }
    batch.forEach((item, i) => item.resolve(results[i]));
  };

  return <T>(read: () => T) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ read, resolve: resolve as (value: unknown) => void, reject });
      if (queue.length === 1) setImmediate(flush);
    });
}
