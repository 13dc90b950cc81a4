import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import type { Database } from 'better-sqlite3';

/**
 * WAL pages after which a commit on the request path checkpoints anyway (SQLite's default is
 * 1,000): the safety net if the worker below stalls or dies, so the WAL cannot grow without bound.
 */
export const safetyNetPages = 20_000;

/** How often the worker copies the WAL back into the database file. */
export const checkpointEveryMs = 200;

/**
 * Runs in a worker thread with its own connection: a PASSIVE checkpoint never waits for a lock and
 * never blocks a writer or a reader; it copies what it can and fsyncs, off the event loop. Plain
 * JavaScript passed with `eval`, so it works the same from dist/ and from TypeScript under jest.
 */
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
db.pragma('cache_size = -64');
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or I/O: the next tick or the safety net */ }
};
const timer = setInterval(tick, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { tick(); db.close(); } finally { parentPort.close(); }
});
`;

export interface Checkpointer {
  /** Stops the worker after a last checkpoint; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the request path. SQLite's auto-checkpoint runs inside whichever commit
 * crosses the threshold, on the event loop, with an fsync; here a worker thread checkpoints every
 * `everyMs` and the main connection's threshold is raised to `safetyNetPages`. Durability is
 * unchanged: commits still go to the WAL as before; the checkpoint only copies committed pages.
 * If the worker fails, the main connection goes back to SQLite's default threshold.
 */
export function startCheckpointer(db: Database, path: string, { everyMs = checkpointEveryMs } = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(workerCode, {
    eval: true,
    workerData: { driver, path, everyMs },
    // It allocates almost nothing: small heaps keep the thread's memory to a few MB.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
  });
  worker.unref();
  db.pragma(`wal_autocheckpoint = ${safetyNetPages}`);
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
      resolve();
    });
  });
  worker.on('error', () => undefined);
  return {
    stop() {
      // unref'd while it runs (it must not keep a process alive); waited for here
      worker.ref();
      worker.postMessage('stop');
      return exited;
    },
  };
}
