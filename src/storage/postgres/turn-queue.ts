/**
 * Collects what callers ask for during one event-loop turn and hands it to `flush` as one batch
 * when the turn ends (setImmediate). `flush` settles every item itself and must not throw.
 */
export function turnQueue<T>(flush: (batch: T[]) => Promise<void>): (item: T) => void {
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
