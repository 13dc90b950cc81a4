import { MongoClient } from 'mongodb';

import { StoreConnectError, StoreUnavailableError } from '../errors.js';
import type { Store } from '../types.js';
import { createMongoAccounts } from './accounts.js';
import { clientOptions, type MongoSettings } from './client-options.js';
import { asStoreError, isOutage, mapOutages } from './outage.js';
import { createMongoApis } from './apis.js';
import { createMongoClients } from './clients.js';
import { createMongoConsents, upgradeConsents } from './consents.js';
import { createMongoCounters } from './counters.js';
import { createMongoFactors } from './factors.js';
import { backfillAccountIds, ensureIndexes } from './indexes.js';
import { createMongoKeys } from './keys.js';
import { createMongoOidcRecords } from './oidc-records.js';
import { createMongoRegistrationTokens } from './registration-tokens.js';
import { createMongoUpstreamLinks, createMongoUpstreams } from './upstreams.js';

export interface MongoOptions extends MongoSettings {
  url: string;
  now?: () => number;
}

/** Host list of a connection string, without credentials, for error messages. */
export function describeHosts(url: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url);
  return match?.[1] ?? 'MongoDB';
}

/**
 * Opens the MongoDB store: majority writes, retryable writes, a bounded wait for a server at
 * start-up, indexes created idempotently. The driver reconnects by itself after an outage.
 */
export async function openMongoStore({ url, now = Date.now, ...settings }: MongoOptions): Promise<Store> {
  let client: MongoClient;
  try {
    client = new MongoClient(url, clientOptions(url, settings));
  } catch (err) {
    throw new StoreConnectError(`databaseUrl: not a valid MongoDB connection string (${(err as Error).message})`);
  }
  try {
    await client.connect();
    const db = client.db();
    await db.command({ ping: 1 });
    await ensureIndexes(db);
    await backfillAccountIds(db);
    await upgradeConsents(db);
  } catch (err) {
    await client.close().catch(() => undefined);
    const cause = (err as Error).message.split('\n')[0];
    throw new StoreConnectError(`cannot use MongoDB at ${describeHosts(url)}: ${cause}`);
  }

  const db = client.db();
  const records = createMongoOidcRecords(db, now);
  return {
    kind: 'mongodb',
    model: (name) => mapOutages(records.model(name)),
    accounts: mapOutages(createMongoAccounts(db, now)),
    clients: mapOutages(createMongoClients(db, now)),
    keys: mapOutages(createMongoKeys(db, now)),
    apis: mapOutages(createMongoApis(db, now)),
    consents: mapOutages(createMongoConsents(db, now)),
    counters: mapOutages(createMongoCounters(db, now)),
    factors: mapOutages(createMongoFactors(db, now)),
    upstreams: mapOutages(createMongoUpstreams(db, now)),
    upstreamLinks: mapOutages(createMongoUpstreamLinks(db, now)),
    registrationTokens: mapOutages(createMongoRegistrationTokens(db, now)),
    // The TTL monitor deletes expired documents; nothing to sweep by hand.
    async sweep() {
      return 0;
    },
    async ping() {
      try {
        await db.command({ ping: 1 });
      } catch (err) {
        // whatever failed, the database did not answer
        throw isOutage(err) ? asStoreError(err) : new StoreUnavailableError(`the database is unavailable: ${(err as Error).message}`, { cause: err });
      }
    },
    async close() {
      await client.close();
    },
  };
}
