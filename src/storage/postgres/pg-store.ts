import pg from 'pg';

import { StoreConnectError, StoreUnavailableError } from '../errors.js';
import type { OidcModelStore, Store } from '../types.js';
import { createPgAccounts } from './accounts.js';
import { createChangeFeed, type ChangeFeed } from './change-feed.js';
import { createPgApis } from './apis.js';
import { createPgClients } from './clients.js';
import { createPgConsents } from './consents.js';
import { createPgCounters } from './counters.js';
import { createDb } from './db.js';
import { createPgFactors } from './factors.js';
import { createPgKeys } from './keys.js';
import { migrate } from './migrations.js';
import { createPgOidcRecords } from './oidc-records.js';
import { asStoreError, isOutage, mapOutages } from './outage.js';
import { describeHost, poolOptions, type PostgresSettings } from './pool-options.js';
import { createPgRegistrationTokens } from './registration-tokens.js';
import { createPgUpstreamLinks, createPgUpstreams } from './upstreams.js';

export interface PostgresOptions extends PostgresSettings {
  url: string;
  now?: () => number;
}

/** BIGINT (epoch ms, counters) as a JS number, for this pool only (pg's global parsers stay as they are). */
const int8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === int8 && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Opens the pool and migrates (under an advisory lock): a StoreConnectError naming the host, never the password, if either fails. */
export async function connectPostgres(url: string, settings: PostgresSettings): Promise<pg.Pool> {
  const pool = new pg.Pool({ ...poolOptions(url, settings), types });
  // An idle connection that breaks (server restart) must not crash the process: the next query fails, as an outage.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    const ignore = () => undefined; // a connection dying mid-migration fails the query we await
    client.on('error', ignore);
    try {
      await migrate(client);
    } finally {
      client.off('error', ignore);
      // migrate changed this session's statement_timeout: the connection is not given to requests
      client.release(true);
    }
    return pool;
  } catch (err) {
    await pool.end().catch(() => undefined);
    const cause = String((err as Error).message ?? err).split('\n')[0];
    throw new StoreConnectError(`cannot use PostgreSQL at ${describeHost(url)}: ${cause}`);
  }
}

/**
 * The PostgreSQL store: a bounded pool, migrations at start, every promise of the storage
 * contract kept by the database (conditional updates, row locks, unique keys, advisory locks),
 * so any number of nodes may share it. Clients, accounts (by id) and APIs are cached per process,
 * kept current by LISTEN/NOTIFY within a bound (change-feed.ts); everything else reads the database.
 */
export async function openPostgresStore({ url, now = Date.now, ...settings }: PostgresOptions): Promise<Store> {
  const pool = await connectPostgres(url, settings);
  const feed: ChangeFeed = createChangeFeed(poolOptions(url, settings));
  const db = createDb(pool);
  const records = createPgOidcRecords(db, now);
  const counters = createPgCounters(db, now);
  const registrationTokens = createPgRegistrationTokens(db, now);
  const models = new Map<string, OidcModelStore>();
  let ended = false;

  const { sweep } = mapOutages({ sweep: async () => (await records.sweep()) + (await counters.sweep()) + (await registrationTokens.sweep()) });
  return {
    kind: 'postgres',
    model(name) {
      let model = models.get(name);
      if (!model) models.set(name, (model = mapOutages(records.model(name))));
      return model;
    },
    accounts: mapOutages(createPgAccounts(db, now, feed.cache('accounts'))),
    clients: mapOutages(createPgClients(db, now, feed.cache('clients'))),
    keys: mapOutages(createPgKeys(db, now)),
    apis: mapOutages(createPgApis(db, now, feed.cache('apis'))),
    consents: mapOutages(createPgConsents(db, now)),
    counters: mapOutages({ update: counters.update, get: counters.get, delete: counters.delete }),
    factors: mapOutages(createPgFactors(db, now)),
    upstreams: mapOutages(createPgUpstreams(db, now)),
    upstreamLinks: mapOutages(createPgUpstreamLinks(db, now)),
    registrationTokens: mapOutages({ create: registrationTokens.create, list: registrationTokens.list, revoke: registrationTokens.revoke, use: registrationTokens.use, giveBack: registrationTokens.giveBack }),
    sweep,
    async ping() {
      try {
        await pool.query('SELECT 1');
      } catch (err) {
        // whatever failed, the database did not answer
        throw isOutage(err) ? asStoreError(err) : new StoreUnavailableError(`the database is unavailable: ${(err as Error).message}`, { cause: err });
      }
    },
    async close() {
      if (ended) return;
      ended = true;
      await Promise.all([feed.close(), pool.end()]);
    },
  };
}
