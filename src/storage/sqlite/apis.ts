import type { Database } from 'better-sqlite3';

import type { ApiRecord, ApiStore } from '../types.js';
import type { RowCache } from './change-watch.js';

interface ApiRow {
  audience: string;
  name: string | null;
  scopes: string;
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number | null;
  created_at: number;
  updated_at: number;
}

const toApi = (row: ApiRow): ApiRecord => ({
  audience: row.audience,
  name: row.name,
  scopes: JSON.parse(row.scopes) as string[],
  tokenFormat: row.token_format,
  accessTokenTtl: row.access_token_ttl,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export function createSqliteApis(db: Database, now: () => number, cache: RowCache<ApiRecord>): ApiStore {
  const stmts = {
    upsert: db.prepare(`
      INSERT INTO apis (audience, name, scopes, token_format, access_token_ttl, created_at, updated_at)
      VALUES (@audience, @name, @scopes, @tokenFormat, @accessTokenTtl, @now, @now)
      ON CONFLICT (audience) DO UPDATE SET name = excluded.name, scopes = excluded.scopes,
        token_format = excluded.token_format, access_token_ttl = excluded.access_token_ttl, updated_at = excluded.updated_at`),
    find: db.prepare('SELECT * FROM apis WHERE audience = ?'),
    list: db.prepare('SELECT * FROM apis ORDER BY audience'),
    remove: db.prepare('DELETE FROM apis WHERE audience = ?'),
  };
  return {
    async upsert(api) {
      stmts.upsert.run({ ...api, scopes: JSON.stringify(api.scopes), now: now() });
      cache.clear();
    },
    // Returns a shared, frozen object (cached per process: see change-watch.ts). Every token
    // request naming a resource looks its API up.
    find(audience) {
      return cache.find(audience, () => {
        const row = stmts.find.get(audience) as ApiRow | undefined;
        return row && toApi(row);
      });
    },
    async list() {
      return (stmts.list.all() as ApiRow[]).map(toApi);
    },
    async remove(audience) {
      const removed = stmts.remove.run(audience).changes === 1;
      cache.clear();
      return removed;
    },
  };
}
