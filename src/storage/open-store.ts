import { resolve } from 'node:path';

import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { MongoSettings } from './mongodb/client-options.js';
import type { PostgresSettings } from './postgres/pool-options.js';
import type { Store } from './types.js';

export class StoreUrlError extends Error {
  readonly code = 'ERR_STORE_URL';
}

export type { MongoSettings, PostgresSettings };

/**
 * Which adapter a DATABASE_URL names, or StoreUrlError (credentials hidden): checked at start
 * before the server is loaded, so a wrong URL ends the process at once.
 */
export function storeKindOf(databaseUrl: string): Store['kind'] {
  if (databaseUrl.startsWith('sqlite:')) {
    if (!databaseUrl.slice('sqlite:'.length).replace(/^\/\//, '')) throw new StoreUrlError(`databaseUrl: "${databaseUrl}" names no file (try sqlite:./data/idport.db)`);
    return 'sqlite';
  }
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return 'postgres';
  if (/^mongodb(\+srv)?:\/\//.test(databaseUrl)) return 'mongodb';
  throw new StoreUrlError(
    `databaseUrl: unsupported scheme in "${databaseUrl.replace(/\/\/[^@/]*@/, '//***@')}" (expected sqlite:PATH, postgres://… or mongodb://…)`,
  );
}

/** Picks and opens the adapter named by a DATABASE_URL. */
export async function openStore(
  databaseUrl: string,
  options: { now?: () => number; backgroundCheckpoints?: boolean } = {},
  mongo: MongoSettings = {},
  postgres: PostgresSettings = {},
): Promise<Store> {
  switch (storeKindOf(databaseUrl)) {
    case 'sqlite': {
      const rest = databaseUrl.slice('sqlite:'.length).replace(/^\/\//, '');
      const path = rest === ':memory:' ? rest : resolve(rest);
      return openSqliteStore({ path, ...options });
    }
    // Loaded only when used: the SQLite default never pays for the drivers.
    case 'postgres': {
      const { openPostgresStore } = await import('./postgres/pg-store.js');
      return openPostgresStore({ url: databaseUrl, now: options.now, ...postgres });
    }
    case 'mongodb': {
      const { openMongoStore } = await import('./mongodb/mongo-store.js');
      return openMongoStore({ url: databaseUrl, now: options.now, ...mongo });
    }
  }
}
