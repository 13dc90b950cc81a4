import type { Database } from 'better-sqlite3';

import type { ClientMetadata, ClientStore } from '../types.js';
import type { RowCache } from './change-watch.js';

export function createSqliteClients(db: Database, now: () => number, cache: RowCache<ClientMetadata>): ClientStore {
  const stmts = {
    upsert: db.prepare(`
      INSERT INTO clients (client_id, metadata, created_at, updated_at) VALUES (@id, @metadata, @now, @now)
      ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = excluded.updated_at`),
    find: db.prepare<[string], string>('SELECT metadata FROM clients WHERE client_id = ?').pluck(),
    list: db.prepare<[], string>('SELECT metadata FROM clients ORDER BY created_at, client_id').pluck(),
    remove: db.prepare('DELETE FROM clients WHERE client_id = ?'),
  };
  const parse = (json: string) => JSON.parse(json) as ClientMetadata;

  return {
    async upsert(metadata) {
      stmts.upsert.run({ id: metadata.client_id, metadata: JSON.stringify(metadata), now: now() });
      cache.clear();
    },
    // Returns a shared, frozen object (cached per process: see change-watch.ts).
    find(clientId) {
      return cache.find(clientId, () => {
        const json = stmts.find.get(clientId);
        return json === undefined ? undefined : parse(json);
      });
    },
    async list() {
      return stmts.list.all().map(parse);
    },
    async remove(clientId) {
      const removed = stmts.remove.run(clientId).changes === 1;
      cache.clear();
      return removed;
    },
  };
}
