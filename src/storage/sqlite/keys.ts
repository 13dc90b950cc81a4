import type { Database } from 'better-sqlite3';

import type { KeyKind, KeyRecord, KeyStore } from '../types.js';

interface Row {
  kid: string;
  kind: KeyKind;
  material: string;
  created_at: number;
  retired_at: number | null;
  expires_at: number | null;
}

const toRecord = (row: Row): KeyRecord => ({
  kid: row.kid,
  kind: row.kind,
  material: JSON.parse(row.material) as Record<string, unknown>,
  createdAt: row.created_at,
  retiredAt: row.retired_at,
  expiresAt: row.expires_at,
});

export function createSqliteKeys(db: Database, now: () => number): KeyStore {
  const usable = 'kind = @kind AND (expires_at IS NULL OR expires_at > @now)';
  const stmts = {
    list: db.prepare(`SELECT * FROM keys WHERE ${usable} ORDER BY created_at DESC, kid`),
    countActive: db.prepare(`SELECT COUNT(*) AS n FROM keys WHERE ${usable} AND retired_at IS NULL`),
    insert: db.prepare(`
      INSERT INTO keys (kid, kind, material, created_at, retired_at, expires_at)
      VALUES (@kid, @kind, @material, @createdAt, @retiredAt, @expiresAt)`),
    retire: db.prepare(
      `UPDATE keys SET retired_at = @now, expires_at = MIN(COALESCE(expires_at, @keepUntil), @keepUntil)
       WHERE ${usable} AND retired_at IS NULL`,
    ),
    setMaterial: db.prepare(`UPDATE keys SET material = @material WHERE kid = @kid AND ${usable}`),
  };
  const insertAll = (keys: KeyRecord[]) => {
    for (const key of keys) stmts.insert.run({ ...key, material: JSON.stringify(key.material) });
  };

  const insertIfNone = db.transaction((kind: KeyKind, keys: KeyRecord[]) => {
    const { n } = stmts.countActive.get({ kind, now: now() }) as { n: number };
    if (n > 0) return false;
    insertAll(keys);
    return true;
  });
  const rotate = db.transaction((kind: KeyKind, keys: KeyRecord[], keepUntil: number) => {
    stmts.retire.run({ kind, now: now(), keepUntil });
    insertAll(keys);
  });

  return {
    async list(kind) {
      return (stmts.list.all({ kind, now: now() }) as Row[]).map(toRecord);
    },
    async insertIfNone(kind, keys) {
      // IMMEDIATE takes the write lock before the check: a second process waits, then sees the keys.
      return insertIfNone.immediate(kind, keys);
    },
    async rotate(kind, keys, keepUntil) {
      rotate.immediate(kind, keys, keepUntil);
    },
    async setMaterial(kind, kid, material) {
      return stmts.setMaterial.run({ kind, kid, material: JSON.stringify(material), now: now() }).changes === 1;
    },
  };
}
