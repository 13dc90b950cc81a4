import type { Database } from 'better-sqlite3';

import { DuplicateError, type AccountRecord, type AccountStore } from '../types.js';
import { normalizeLogin } from '../normalize.js';
import type { RowCache } from './change-watch.js';
import type { Batched } from './turn-batch.js';

interface Row {
  id: string;
  username: string;
  email: string | null;
  email_verified: number;
  name: string | null;
  password_hash: string;
  claims: string;
  created_at: number;
  updated_at: number;
}

const toRecord = (row: Row | undefined): AccountRecord | undefined =>
  row && {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified === 1,
    name: row.name,
    passwordHash: row.password_hash,
    claims: JSON.parse(row.claims) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };

/** A LIKE pattern matching values that contain `needle` literally (`\\` escapes `\\`, `%` and `_`). */
export const containsPattern = (needle: string) => `%${needle.replace(/[\\%_]/g, '\\$&')}%`;

const afterKey = '(username_norm, id) > (@afterNorm, @afterId)';
// lower() on both sides: SQLite's LIKE and lower() fold ASCII letters only, other characters match as they are
const containing = ['username', 'email', 'name'].map((c) => `lower(${c}) LIKE lower(@pattern) ESCAPE '\\'`).join(' OR ');
/**
 * A page of accounts in the unique index's order (username_norm is UNIQUE NOT NULL, so SQLite walks
 * that index and stops after LIMIT rows, no sort); four statements so each keeps that plan.
 */
const pageSql = (after: boolean, contains: boolean) => {
  const where = [...(after ? [afterKey] : []), ...(contains ? [`(${containing})`] : [])];
  return `SELECT * FROM accounts${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY username_norm, id LIMIT @limit`;
};

export function createSqliteAccounts(db: Database, now: () => number, read: Batched, cache: RowCache<AccountRecord>): AccountStore {
  const stmts = {
    insert: db.prepare(`
      INSERT INTO accounts (id, username, username_norm, email, email_norm, email_verified, name, password_hash, claims, created_at, updated_at)
      VALUES (@id, @username, @usernameNorm, @email, @emailNorm, @emailVerified, @name, @passwordHash, @claims, @now, @now)`),
    byId: db.prepare('SELECT * FROM accounts WHERE id = ?'),
    byLogin: db.prepare('SELECT * FROM accounts WHERE username_norm = @login OR email_norm = @login ORDER BY username_norm = @login DESC LIMIT 1'),
    taken: db.prepare('SELECT username_norm = @usernameNorm AS sameUsername FROM accounts WHERE username_norm IN (@usernameNorm, @emailNorm) OR email_norm IN (@usernameNorm, @emailNorm) LIMIT 1'),
    list: db.prepare('SELECT * FROM accounts ORDER BY username_norm'),
    page: [pageSql(false, false), pageSql(true, false), pageSql(false, true), pageSql(true, true)].map((sql) => db.prepare(sql)),
    setPassword: db.prepare('UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?'),
    remove: db.prepare('DELETE FROM accounts WHERE id = ?'),
    setProfile: db.prepare(
      'UPDATE accounts SET name = CASE WHEN @setName THEN @name ELSE name END, claims = COALESCE(@claims, claims), updated_at = @now WHERE id = @id',
    ),
    emailTaken: db.prepare<[string, string, string], number>('SELECT 1 FROM accounts WHERE id != ? AND (username_norm = ? OR email_norm = ?) LIMIT 1').pluck(),
    setEmail: db.prepare('UPDATE accounts SET email = ?, email_norm = ?, email_verified = ?, updated_at = ? WHERE id = ?'),
    markVerified: db.prepare('UPDATE accounts SET email_verified = 1, updated_at = ? WHERE id = ? AND email_norm = ?'),
  };
  // The new email may be nobody else's username or email (a login must name one account).
  const setEmail = db.transaction((id: string, email: string | null, verified: boolean, at: number) => {
    const emailNorm = email === null ? null : normalizeLogin(email);
    if (emailNorm !== null && stmts.emailTaken.get(id, emailNorm, emailNorm)) throw new DuplicateError('email');
    return stmts.setEmail.run(email, emailNorm, verified ? 1 : 0, at, id).changes === 1;
  });

  // A username may not equal anyone's email and vice versa, so a login string names one account.
  const create = db.transaction((account: Parameters<AccountStore['create']>[0], at: number) => {
    const usernameNorm = normalizeLogin(account.username);
    const emailNorm = account.email ? normalizeLogin(account.email) : null;
    const clash = stmts.taken.get({ usernameNorm, emailNorm }) as { sameUsername: number } | undefined;
    if (clash) throw new DuplicateError(clash.sameUsername ? 'username' : 'email');
    stmts.insert.run({
      ...account,
      usernameNorm,
      emailNorm,
      emailVerified: account.emailVerified ? 1 : 0,
      claims: JSON.stringify(account.claims),
      now: at,
    });
  });

  return {
    async create(account) {
      const at = now();
      try {
        create.immediate(account, at);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new DuplicateError(String((err as Error).message).includes('email') ? 'email' : 'username');
        }
        throw err;
      }
      return { ...account, createdAt: at, updatedAt: at };
    },
    // Returns a shared, frozen object (cached per process: see change-watch.ts). Sign-in's
    // findByLogin always reads the database.
    findById(id) {
      return cache.find(id, () => toRecord(stmts.byId.get(id) as Row | undefined));
    },
    findByLogin(login) {
      return read(() => stmts.byLogin.get({ login: normalizeLogin(login) }) as Row | undefined).then(toRecord);
    },
    async list() {
      return (stmts.list.all() as Row[]).map((row) => toRecord(row)!);
    },
    async page({ after, limit, contains }) {
      // LIKE would end the pattern at a NUL: a needle with one matches nothing (as in PostgreSQL)
      if (contains?.includes('\0')) return [];
      const stmt = stmts.page[(after ? 1 : 0) + (contains !== undefined ? 2 : 0)]!;
      const params = {
        limit,
        ...(after ? { afterNorm: after.usernameNorm, afterId: after.id } : {}),
        ...(contains !== undefined ? { pattern: containsPattern(contains) } : {}),
      };
      return (stmt.all(params) as Row[]).map((row) => toRecord(row)!);
    },
    async setPasswordHash(id, passwordHash) {
      const changed = stmts.setPassword.run(passwordHash, now(), id).changes === 1;
      cache.clear();
      return changed;
    },
    async setEmail(id, email, verified) {
      try {
        return setEmail.immediate(id, email, verified, now());
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new DuplicateError('email');
        throw err;
      } finally {
        cache.clear();
      }
    },
    async markEmailVerified(id, email) {
      const changed = stmts.markVerified.run(now(), id, normalizeLogin(email)).changes === 1;
      cache.clear();
      return changed;
    },
    async setProfile(id, { name, claims }) {
      const changed =
        stmts.setProfile.run({ id, setName: name === undefined ? 0 : 1, name: name ?? null, claims: claims === undefined ? null : JSON.stringify(claims), now: now() }).changes === 1;
      cache.clear();
      return changed;
    },
    async remove(id) {
      const removed = stmts.remove.run(id).changes === 1;
      cache.clear();
      return removed;
    },
  };
}
