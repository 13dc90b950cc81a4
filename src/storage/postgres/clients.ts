import type { ClientMetadata, ClientStore } from '../types.js';
import type { RowCache } from './change-feed.js';
import { isPgKey, type Db } from './db.js';

const sql = {
  upsert: `INSERT INTO clients (client_id, metadata, created_at, updated_at) VALUES ($1, $2, $3, $3)
    ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, updated_at = excluded.updated_at`,
  find: 'SELECT metadata FROM clients WHERE client_id = $1',
  list: 'SELECT metadata FROM clients ORDER BY created_at, client_id COLLATE "C"',
  remove: 'DELETE FROM clients WHERE client_id = $1',
};

/** Client metadata as one `json` value (kept exactly as written, key order included). */
export function createPgClients(db: Db, now: () => number, cache: RowCache<ClientMetadata>): ClientStore {
  return {
    async upsert(metadata) {
      await db.query(sql.upsert, [metadata.client_id, JSON.stringify(metadata), now()]);
      cache.clear();
    },
    // Returns a shared, frozen object (cached per process: see change-feed.ts).
    async find(clientId) {
      if (!isPgKey(clientId)) return undefined;
      return cache.find(clientId, async () => (await db.query<{ metadata: ClientMetadata }>(sql.find, [clientId])).rows[0]?.metadata);
    },
    async list() {
      return (await db.query<{ metadata: ClientMetadata }>(sql.list)).rows.map((row) => row.metadata);
    },
    async remove(clientId) {
      const removed = isPgKey(clientId) && (await db.query(sql.remove, [clientId])).rowCount === 1;
      cache.clear();
      return removed;
    },
  };
}
