import type { Database } from 'better-sqlite3';

interface Pending {
  write(): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export type GroupedWrite = <T>(write: () => T) => Promise<T>;

/**
 * Group commit: writes queued during one turn of the event loop are committed together in one
 * transaction on the next (setImmediate), and each caller's promise settles after that commit,
 * with what its write returned — so a caller that awaits its write can rely on it, on this node
 * and on every other, as before. Under load this turns many small commits into a few larger ones
 * (each commit costs WAL frames and lock calls). Writes run in the order they were asked for; a
 * conditional one (consume) sees every write queued before it. If a batch fails, its writes are
 * retried one by one so only the bad one fails.
 */
export function createGroupCommit(db: Database): GroupedWrite {
  let queue: Pending[] = [];
  const commitAll = db.transaction((batch: Pending[]) => batch.map((item) => item.write()));

  const flush = () => {
    const batch = queue;
    queue = [];
    let results: unknown[];
    try {
      results = commitAll.immediate(batch);
    } catch {
      for (const item of batch) {
        try {
          item.resolve(item.write());
        } catch (err) {
          item.reject(err);
        }
      }
      return;
    }
    batch.forEach((item, i) => item.resolve(results[i]));
  };

  return <T>(write: () => T) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (queue.length === 1) setImmediate(flush);
    });
}
