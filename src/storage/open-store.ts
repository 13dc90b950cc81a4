import { resolve } from 'node:path';

import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { MongoSettings } from './mongodb/client-options.js';
import type { PostgresSettings } from './postgres/pool-options.js';
import type { Store } from './types.js';

export class StoreUrlError extends Error {
  readonly code = 'ERR_STORE_URL';
}

export type { MongoSettings, PostgresSettings };

/** Picks and opens the adapter named by a DATABASE_URL. */
export async function openStore(
  databaseUrl: string,
  options: { now?: () => number; backgroundCheckpoints?: boolean } = {},
  mongo: MongoSettings = {},
  postgres: PostgresSettings = {},
): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) {
    const rest = databaseUrl.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!rest) throw new StoreUrlError(`databaseUrl: "${databaseUrl}" names no file (try sqlite:./data/idport.db)`);
    const path = rest === ':memory:' ? rest : resolve(rest);
    return openSqliteStore({ path, ...options });
  }
  // Loaded only when used: the SQLite default never pays for the drivers.
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const { openPostgresStore } = await import('./postgres/pg-store.js');
    return openPostgresStore({ url: databaseUrl, now: options.now, ...postgres });
  }
  if (/^mongodb(\+srv)?:\/\//.test(databaseUrl)) {
    const { openMongoStore } = await import('./mongodb/mongo-store.js');
    return openMongoStore({ url: databaseUrl, now: options.now, ...mongo });
  }
  throw new StoreUrlError(
    `databaseUrl: unsupported scheme in "${databaseUrl.replace(/\/\/[^@/]*@/, '//***@')}" (expected sqlite:PATH, postgres://… or mongodb://…)`,
  );
}
