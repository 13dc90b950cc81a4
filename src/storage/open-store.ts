import { resolve } from 'node:path';

import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { MongoSettings } from './mongodb/client-options.js';
import type { Store } from './types.js';

export class StoreUrlError extends Error {
  readonly code = 'ERR_STORE_URL';
}

export type { MongoSettings };

/** Picks and opens the adapter named by a DATABASE_URL. */
export async function openStore(
  databaseUrl: string,
  options: { now?: () => number } = {},
  mongo: MongoSettings = {},
): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) {
    const rest = databaseUrl.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!rest) throw new StoreUrlError(`databaseUrl: "${databaseUrl}" names no file (try sqlite:./data/idport.db)`);
    const path = rest === ':memory:' ? rest : resolve(rest);
    return openSqliteStore({ path, ...options });
  }
  if (/^mongodb(\+srv)?:\/\//.test(databaseUrl)) {
    // Loaded only when used: the SQLite default never pays for the driver.
    const { openMongoStore } = await import('./mongodb/mongo-store.js');
    return openMongoStore({ url: databaseUrl, ...options, ...mongo });
  }
  throw new StoreUrlError(
    `databaseUrl: unsupported scheme in "${databaseUrl.replace(/\/\/[^@/]*@/, '//***@')}" (expected sqlite:PATH or mongodb://…)`,
  );
}
