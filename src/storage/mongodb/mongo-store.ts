import { MongoClient, MongoNetworkError, MongoServerSelectionError, type MongoClientOptions } from 'mongodb';

import { StoreConnectError, StoreUnavailableError } from '../errors.js';
import type { Store } from '../types.js';
import { createMongoAccounts } from './accounts.js';
import { createMongoApis } from './apis.js';
import { createMongoClients } from './clients.js';
import { createMongoConsents, upgradeConsents } from './consents.js';
import { createMongoCounters } from './counters.js';
import { backfillAccountIds, ensureIndexes } from './indexes.js';
import { createMongoKeys } from './keys.js';
import { createMongoOidcRecords } from './oidc-records.js';

export interface MongoOptions {
  url: string;
  now?: () => number;
  maxPoolSize?: number;
  /** how long to look for a usable server before an operation (and start-up) fails */
  serverSelectionTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Host list of a connection string, without credentials, for error messages. */
export function describeHosts(url: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url);
  return match?.[1] ?? 'MongoDB';
}

const unavailable = (err: unknown) => err instanceof MongoNetworkError || err instanceof MongoServerSelectionError;

/** Turns "cannot reach the database" errors from any store call into StoreUnavailableError. */
function guard<T extends object>(target: T): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (err) {
          if (unavailable(err)) throw new StoreUnavailableError(`the database is unavailable: ${(err as Error).message}`, { cause: err });
          throw err;
        }
      };
    },
  });
}

/**
 * Opens the MongoDB store: majority writes, retryable writes, a bounded wait for a server at
 * start-up, indexes created idempotently. The driver reconnects by itself after an outage.
 */
export async function openMongoStore({ url, now = Date.now, maxPoolSize = 20, serverSelectionTimeoutMs = 10_000, connectTimeoutMs = 10_000 }: MongoOptions): Promise<Store> {
  const options: MongoClientOptions = {
    maxPoolSize,
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    connectTimeoutMS: connectTimeoutMs,
    retryWrites: true,
    writeConcern: { w: 'majority' },
    appName: 'idport',
  };
  let client: MongoClient;
  try {
    client = new MongoClient(url, options);
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
    model: (name) => guard(records.model(name)),
    accounts: guard(createMongoAccounts(db, now)),
    clients: guard(createMongoClients(db, now)),
    keys: guard(createMongoKeys(db, now)),
    apis: guard(createMongoApis(db, now)),
    consents: guard(createMongoConsents(db, now)),
    counters: guard(createMongoCounters(db, now)),
    // The TTL monitor deletes expired documents; nothing to sweep by hand.
    async sweep() {
      return 0;
    },
    async ping() {
      try {
        await db.command({ ping: 1 });
      } catch (err) {
        throw new StoreUnavailableError(`the database is unavailable: ${(err as Error).message}`, { cause: err });
      }
    },
    async close() {
      await client.close();
    },
  };
}
