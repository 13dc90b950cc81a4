import type { Database } from 'better-sqlite3';

import { DuplicateError, type RegistrationTokenRecord, type RegistrationTokenStore } from '../types.js';

interface TokenRow {
  id: string;
  hash: string;
  max_uses: number | null;
  used: number;
  created_at: number;
  expires_at: number;
}

const toToken = (row: TokenRow): RegistrationTokenRecord => ({
  id: row.id,
  hash: row.hash,
  maxUses: row.max_uses,
  used: row.used,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

/** Initial access tokens; a use is one conditional UPDATE, so parallel uses never overrun. */
export function createSqliteRegistrationTokens(db: Database, now: () => number): RegistrationTokenStore {
  const stmts = {
    create: db.prepare(`
      INSERT INTO registration_tokens (id, hash, max_uses, used, created_at, expires_at)
      VALUES (@id, @hash, @maxUses, 0, @now, @expiresAt)`),
    list: db.prepare('SELECT * FROM registration_tokens WHERE expires_at > ? ORDER BY expires_at, id'),
    revoke: db.prepare('DELETE FROM registration_tokens WHERE id = ?'),
    use: db.prepare(`
      UPDATE registration_tokens SET used = used + 1
      WHERE hash = @hash AND expires_at > @now AND (max_uses IS NULL OR used < max_uses)
      RETURNING *`),
    giveBack: db.prepare('UPDATE registration_tokens SET used = used - 1 WHERE id = ? AND used > 0'),
  };
  return {
    async create(token) {
      try {
        stmts.create.run({ ...token, now: now() });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateError('id');
        if (code === 'SQLITE_CONSTRAINT_UNIQUE') throw new DuplicateError('hash');
        throw err;
      }
    },
    async list() {
      return (stmts.list.all(now()) as TokenRow[]).map(toToken).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    },
    async revoke(id) {
      return stmts.revoke.run(id).changes === 1;
    },
    async use(hash) {
      const row = stmts.use.get({ hash, now: now() }) as TokenRow | undefined;
      return row && toToken(row);
    },
    async giveBack(id) {
      stmts.giveBack.run(id);
    },
  };
}
