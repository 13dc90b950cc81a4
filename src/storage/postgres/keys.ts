import type { PoolClient } from 'pg';

import type { KeyKind, KeyRecord, KeyStore } from '../types.js';
import type { Db } from './db.js';

interface Row {
  kid: string;
  kind: KeyKind;
  material: Record<string, unknown>;
  created_at: number;
  retired_at: number | null;
  expires_at: number | null;
}

const toRecord = (row: Row): KeyRecord => ({
  kid: row.kid,
  kind: row.kind,
  material: row.material,
  createdAt: row.created_at,
  retiredAt: row.retired_at,
  expiresAt: row.expires_at,
});

const usable = 'kind = $1 AND (expires_at IS NULL OR expires_at > $2)';

const sql = {
  list: `SELECT * FROM keys WHERE ${usable} ORDER BY created_at DESC, kid COLLATE "C"`,
  // One lock per kind, held to the end of the transaction: bootstraps and rotations of a kind,
  // from any node, take turns.
  lockKind: "SELECT pg_advisory_xact_lock(hashtext('idport:keys:' || $1))",
  countActive: `SELECT COUNT(*)::int AS n FROM keys WHERE ${usable} AND retired_at IS NULL`,
  insert: 'INSERT INTO keys (kid, kind, material, created_at, retired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
  retire: `UPDATE keys SET retired_at = $2, expires_at = LEAST(COALESCE(expires_at, $3), $3) WHERE ${usable} AND retired_at IS NULL`,
  setMaterial: `UPDATE keys SET material = $3 WHERE ${usable} AND kid = $4`,
};

async function insertAll(client: PoolClient, keys: KeyRecord[]) {
  for (const key of keys) {
    await client.query(sql.insert, [key.kid, key.kind, JSON.stringify(key.material), key.createdAt, key.retiredAt, key.expiresAt]);
  }
}

export function createPgKeys(db: Db, now: () => number): KeyStore {
  return {
    async list(kind) {
      return (await db.query<Row>(sql.list, [kind, now()])).rows.map(toRecord);
    },
    async insertIfNone(kind, keys) {
      return db.tx(async (client) => {
        await client.query(sql.lockKind, [kind]);
        const { rows } = await client.query<{ n: number }>(sql.countActive, [kind, now()]);
        if (rows[0]!.n > 0) return false;
        await insertAll(client, keys);
        return true;
      });
    },
    // One transaction: if a new key cannot be stored, nothing was retired.
    async rotate(kind, keys, keepUntil) {
      await db.tx(async (client) => {
        await client.query(sql.lockKind, [kind]);
        await client.query(sql.retire, [kind, now(), keepUntil]);
        await insertAll(client, keys);
      });
    },
    async setMaterial(kind, kid, material) {
      return (await db.query(sql.setMaterial, [kind, now(), JSON.stringify(material), kid])).rowCount === 1;
    },
  };
}
