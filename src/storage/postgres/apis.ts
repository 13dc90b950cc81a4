import type { ApiRecord, ApiStore } from '../types.js';
import type { RowCache } from './change-feed.js';
import { isPgKey, type Db } from './db.js';

interface Row {
  audience: string;
  name: string | null;
  scopes: string[];
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number | null;
  created_at: number;
  updated_at: number;
}

const toApi = (row: Row): ApiRecord => ({
  audience: row.audience,
  name: row.name,
  scopes: row.scopes,
  tokenFormat: row.token_format,
  accessTokenTtl: row.access_token_ttl,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const sql = {
  upsert: `INSERT INTO apis (audience, name, scopes, token_format, access_token_ttl, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $6)
    ON CONFLICT (audience) DO UPDATE SET name = excluded.name, scopes = excluded.scopes,
      token_format = excluded.token_format, access_token_ttl = excluded.access_token_ttl, updated_at = excluded.updated_at`,
  find: 'SELECT * FROM apis WHERE audience = $1',
  list: 'SELECT * FROM apis ORDER BY audience COLLATE "C"',
  remove: 'DELETE FROM apis WHERE audience = $1',
};

export function createPgApis(db: Db, now: () => number, cache: RowCache<ApiRecord>): ApiStore {
  return {
    async upsert(api) {
      await db.query(sql.upsert, [api.audience, api.name, JSON.stringify(api.scopes), api.tokenFormat, api.accessTokenTtl, now()]);
      cache.clear();
    },
    // Returns a shared, frozen object (cached per process: see change-feed.ts).
    async find(audience) {
      if (!isPgKey(audience)) return undefined;
      return cache.find(audience, async () => {
        const row = (await db.query<Row>(sql.find, [audience])).rows[0];
        return row && toApi(row);
      });
    },
    async list() {
      return (await db.query<Row>(sql.list)).rows.map(toApi);
    },
    async remove(audience) {
      const removed = isPgKey(audience) && (await db.query(sql.remove, [audience])).rowCount === 1;
      cache.clear();
      return removed;
    },
  };
}
