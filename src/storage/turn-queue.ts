/**
 * Collects what callers ask for during one event-loop turn and hands it to `flush` as one batch
 * when the turn ends (setImmediate): the SQLite store's read and write batches, PostgreSQL's
 * lookups and saves. `flush` settles every item itself and must not throw (nor reject).
 */
export function turnQueue<T>(flush: (batch: T[]) => void | Promise<void>): (item: T) => void {
  let queue: T[] = [];
  return (item) => {
    queue.push(item);
    if (queue.length === 1) {
      setImmediate(() => {
        const batch = queue;
        queue = [];
        void flush(batch);
      });
    }
  };
}
