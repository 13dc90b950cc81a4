import Database from 'better-sqlite3';

import type { Store } from '../types.js';
import { createSqliteAccounts } from './accounts.js';
import { startCheckpointer } from './checkpointer.js';
import { createSqliteApis } from './apis.js';
import { createSqliteClients } from './clients.js';
import { createChangeWatch } from './change-watch.js';
import { createSqliteConsents } from './consents.js';
import { createSqliteCounters } from './counters.js';
import { createSqliteFactors } from './factors.js';
import { prepareDatabaseFile } from './file-mode.js';
import { createSqliteKeys } from './keys.js';
import { migrate } from './migrations.js';
import { mapOutages } from './outage.js';
import { createOidcRecords } from './oidc-records.js';
import { createSqliteRegistrationTokens } from './registration-tokens.js';
import { createBatchMeter, createTurnBatch } from './turn-batch.js';
import { createSqliteUpstreamLinks, createSqliteUpstreams } from './upstreams.js';
import { busyTimeoutMs, useWal } from './wal-mode.js';

export interface SqliteOptions {
  /** file path, or ':memory:' */
  path: string;
  /** clock in epoch ms (tests move it) */
  now?: () => number;
  /**
   * WAL checkpoints in a worker thread (checkpointer.ts), off the request path: for a server
   * (default). A short-lived process (the CLI) leaves them to SQLite, which checkpoints on close.
   */
  backgroundCheckpoints?: boolean;
}

/** How long a cached client, account or API row may go without a batch verifying it (change-watch.ts). */
export const cacheMaxStaleMs = 100;

export function openSqliteStore({ path, now = Date.now, backgroundCheckpoints = true }: SqliteOptions): Store {
  if (path !== ':memory:') prepareDatabaseFile(path);
  const db = new Database(path);
  // Several processes may share the file: wait for the write lock rather than fail.
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  useWal(db);
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  // WAL checkpoints in a worker thread, not inside whichever request's commit crosses the threshold.
  const checkpointer = path === ':memory:' || !backgroundCheckpoints ? undefined : startCheckpointer(db, path);

  const watch = createChangeWatch(db, { now, maxStaleMs: cacheMaxStaleMs });
  const meter = createBatchMeter();
  const read = createTurnBatch(db, 'read', { begin: watch.verify, meter });
  const records = createOidcRecords(db, now, read, watch, meter);
  const ping = db.prepare('SELECT 1');
  const sweepCounters = db.prepare('DELETE FROM counters WHERE expires_at <= ?');
  const sweepRegistrationTokens = db.prepare('DELETE FROM registration_tokens WHERE expires_at <= ?');

  // Outages surface as StoreUnavailableError: lookups through the turn batches map their own.
  return mapOutages({
    kind: 'sqlite' as const,
    model: records.model,
    accounts: mapOutages(createSqliteAccounts(db, now, read, watch.cache('accounts', read)), ['findById', 'findByLogin']),
    clients: mapOutages(createSqliteClients(db, now, watch.cache('clients', read)), ['find']),
    keys: mapOutages(createSqliteKeys(db, now)),
    apis: mapOutages(createSqliteApis(db, now, watch.cache('apis', read)), ['find']),
    consents: mapOutages(createSqliteConsents(db, now)),
    counters: mapOutages(createSqliteCounters(db, now)),
    factors: mapOutages(createSqliteFactors(db, now)),
    upstreams: mapOutages(createSqliteUpstreams(db, now)),
    upstreamLinks: mapOutages(createSqliteUpstreamLinks(db, now)),
    registrationTokens: mapOutages(createSqliteRegistrationTokens(db, now)),
    async sweep() {
      return records.sweep() + sweepCounters.run(now()).changes + sweepRegistrationTokens.run(now()).changes;
    },
    async ping() {
      ping.get();
    },
    async close() {
      await checkpointer?.stop();
      if (db.open) db.close();
    },
  }, ['model', 'close']);
}
