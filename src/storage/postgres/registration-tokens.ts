import { DuplicateError, type RegistrationTokenRecord, type RegistrationTokenStore } from '../types.js';
import { isPgKey, uniqueViolation, type Db } from './db.js';

interface Row {
  id: string;
  hash: string;
  max_uses: number | null;
  used: number;
  created_at: number;
  expires_at: number;
}

const toToken = (row: Row): RegistrationTokenRecord => ({
  id: row.id,
  hash: row.hash,
  maxUses: row.max_uses,
  used: row.used,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

const sql = {
  create: 'INSERT INTO registration_tokens (id, hash, max_uses, used, created_at, expires_at) VALUES ($1, $2, $3, 0, $4, $5)',
  list: 'SELECT * FROM registration_tokens WHERE expires_at > $1 ORDER BY created_at, id COLLATE "C"',
  revoke: 'DELETE FROM registration_tokens WHERE id = $1',
  // one conditional UPDATE: of parallel uses on a token with n uses left, exactly n match
  use: `UPDATE registration_tokens SET used = used + 1
    WHERE hash = $1 AND expires_at > $2 AND (max_uses IS NULL OR used < max_uses) RETURNING *`,
  giveBack: 'UPDATE registration_tokens SET used = used - 1 WHERE id = $1 AND used > 0',
  sweep: 'DELETE FROM registration_tokens WHERE expires_at <= $1',
};

/** Initial access tokens for dynamic registration; a use is one conditional UPDATE. */
export function createPgRegistrationTokens(db: Db, now: () => number): RegistrationTokenStore & { sweep(): Promise<number> } {
  return {
    async create(token) {
      try {
        await db.query(sql.create, [token.id, token.hash, token.maxUses, now(), token.expiresAt]);
      } catch (err) {
        const constraint = uniqueViolation(err);
        if (constraint !== undefined) throw new DuplicateError(constraint.includes('hash') ? 'hash' : 'id');
        throw err;
      }
    },
    async list() {
      return (await db.query<Row>(sql.list, [now()])).rows.map(toToken);
    },
    async revoke(id) {
      return isPgKey(id) && (await db.query(sql.revoke, [id])).rowCount === 1;
    },
    async use(hash) {
      if (!isPgKey(hash)) return undefined;
      const row = (await db.query<Row>(sql.use, [hash, now()])).rows[0];
      return row && toToken(row);
    },
    async giveBack(id) {
      if (isPgKey(id)) await db.query(sql.giveBack, [id]);
    },
    async sweep() {
      return (await db.query(sql.sweep, [now()])).rowCount;
    },
  };
}
