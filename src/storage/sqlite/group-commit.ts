import type { Database } from 'better-sqlite3';

interface Pending<T> {
  params: T;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit: writes queued during one turn of the event loop are committed together in one
 * transaction on the next (setImmediate), and each caller's promise settles after that commit —
 * so a caller that awaits its write can rely on it, on this node and on every other, as before.
 * Under load this turns many small commits into a few larger ones. If a batch fails, its writes
 * are retried one by one so only the bad one fails.
 */
export function createGroupCommit<T>(db: Database, write: (params: T) => void): (params: T) => Promise<void> {
  let queue: Pending<T>[] = [];
  const commitAll = db.transaction((batch: Pending<T>[]) => {
    for (const item of batch) write(item.params);
  });

  const flush = () => {
    const batch = queue;
    queue = [];
    try {
      commitAll.immediate(batch);
      for (const item of batch) item.resolve();
    } catch {
      for (const item of batch) {
        try {
          write(item.params);
          item.resolve();
        } catch (err) {
          item.reject(err);
        }
      }
    }
  };

  return (params) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ params, resolve, reject });
      if (queue.length === 1) setImmediate(flush);
    });
}
