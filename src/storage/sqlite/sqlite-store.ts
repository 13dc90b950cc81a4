import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { RateLimiterSQLite } from 'rate-limiter-flexible';

import type { Store } from '../types.js';
import { createSqliteAccounts } from './accounts.js';
import { createSqliteApis, createSqliteConsents } from './apis.js';
import { createSqliteClients } from './clients.js';
import { createChangeWatch } from './change-watch.js';
import { createSqliteKeys } from './keys.js';
import { migrate } from './migrations.js';
import { createOidcRecords } from './oidc-records.js';
import { createTurnBatch } from './turn-batch.js';

export interface SqliteOptions {
  /** file path, or ':memory:' */
  path: string;
  /** clock in epoch ms (tests move it) */
  now?: () => number;
}

/** How long a cached client, account or API row may go without a batch verifying it (change-watch.ts). */
export const cacheMaxStaleMs = 100;

/**
 * The connection as rate-limiter-flexible sees it: it prepares its SQL anew on every call (five
 * times per sign-in); this one hands back the statement prepared the first time.
 */
function reusingStatements(db: Database.Database): Database.Database {
  const statements = new Map<string, Database.Statement>();
  return Object.create(db, {
    prepare: {
      value(sql: string) {
        let statement = statements.get(sql);
        if (!statement) statements.set(sql, (statement = db.prepare(sql)));
        return statement;
      },
    },
  }) as Database.Database;
}

export function openSqliteStore({ path, now = Date.now }: SqliteOptions): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Several processes may share the file: wait for the write lock rather than fail.
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);

  const watch = createChangeWatch(db, { now, maxStaleMs: cacheMaxStaleMs });
  const read = createTurnBatch(db, 'read', { begin: watch.verify });
  const limiterConnection = reusingStatements(db);
  const records = createOidcRecords(db, now, read);
  const ping = db.prepare('SELECT 1');
  const sweepRateLimits = db.prepare('DELETE FROM rate_limits WHERE expire IS NOT NULL AND expire < ?');

  return {
    kind: 'sqlite',
    model: records.model,
    accounts: createSqliteAccounts(db, now, read, watch.cache('accounts', read)),
    clients: createSqliteClients(db, now, watch.cache('clients', read)),
    keys: createSqliteKeys(db, now),
    apis: createSqliteApis(db, now, watch.cache('apis', read)),
    consents: createSqliteConsents(db, now),
    rateLimiter: (options) =>
      new RateLimiterSQLite({ ...options, storeClient: limiterConnection, storeType: 'better-sqlite3', tableName: 'rate_limits', tableCreated: true }),
    async sweep() {
      // rate-limiter-flexible compares against the real clock, not the store's test clock
      return records.sweep() + sweepRateLimits.run(Date.now()).changes;
    },
    async ping() {
      ping.get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
