/**
 * A plain durable adapter for the baseline (`--baseline-store=sqlite`): what a developer putting
 * bare oidc-provider on SQLite would write. better-sqlite3 with the settings idport uses (WAL,
 * synchronous = NORMAL), one row per record, indexes for what oidc-provider looks records up by
 * (uid, user code, grant) and for expiry, each write its own transaction (no group commit, no
 * caches). It answers the question the in-memory baseline cannot: what the library costs once
 * every token is written to disk before the answer, as idport writes them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

export function createSqliteAdapter() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-baseline-'));
  const db = new Database(join(dir, 'oidc.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE records (
      model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
      grant_id TEXT, uid TEXT, user_code TEXT, expires_at INTEGER, consumed_at INTEGER,
      PRIMARY KEY (model, id)
    );
    CREATE INDEX records_grant ON records (grant_id) WHERE grant_id IS NOT NULL;
    CREATE INDEX records_uid ON records (model, uid) WHERE uid IS NOT NULL;
    CREATE INDEX records_user_code ON records (model, user_code) WHERE user_code IS NOT NULL;
    CREATE INDEX records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
  `);
  const live = '(expires_at IS NULL OR expires_at > ?)';
  const upsert = db.prepare(`INSERT INTO records (model, id, payload, grant_id, uid, user_code, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
      user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL`);
  const find = db.prepare(`SELECT payload, consumed_at FROM records WHERE model = ? AND id = ? AND ${live}`);
  const findByUid = db.prepare(`SELECT payload, consumed_at FROM records WHERE model = ? AND uid = ? AND ${live}`);
  const findByUserCode = db.prepare(`SELECT payload, consumed_at FROM records WHERE model = ? AND user_code = ? AND ${live}`);
  const consume = db.prepare('UPDATE records SET consumed_at = ? WHERE model = ? AND id = ?');
  const destroy = db.prepare('DELETE FROM records WHERE model = ? AND id = ?');
  const revoke = db.prepare('DELETE FROM records WHERE grant_id = ?');

  const toPayload = (row) => (row ? { ...JSON.parse(row.payload), ...(row.consumed_at ? { consumed: row.consumed_at } : {}) } : undefined);

  class SqliteAdapter {
    constructor(model) {
      this.model = model;
    }

    async upsert(id, payload, expiresIn) {
      const str = (v) => (typeof v === 'string' ? v : null);
      upsert.run(this.model, id, JSON.stringify(payload), str(payload.grantId), str(payload.uid), str(payload.userCode), expiresIn ? Date.now() + expiresIn * 1000 : null);
    }

    async find(id) {
      return toPayload(find.get(this.model, id, Date.now()));
    }

    async findByUid(uid) {
      return toPayload(findByUid.get(this.model, uid, Date.now()));
    }

    async findByUserCode(userCode) {
      return toPayload(findByUserCode.get(this.model, userCode, Date.now()));
    }

    async consume(id) {
      consume.run(Math.floor(Date.now() / 1000), this.model, id);
    }

    async destroy(id) {
      destroy.run(this.model, id);
    }

    async revokeByGrantId(grantId) {
      revoke.run(grantId);
    }
  }

  return {
    Adapter: SqliteAdapter,
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
