import type { PoolClient } from 'pg';

import { normalizeLogin } from '../normalize.js';
import { DuplicateError, type AccountPageQuery, type AccountRecord, type AccountStore } from '../types.js';
import type { RowCache } from './change-feed.js';
import { isPgKey, uniqueViolation, type Db } from './db.js';

interface Row {
  id: string;
  username: string;
  email: string | null;
  email_verified: boolean;
  name: string | null;
  password_hash: string;
  claims: Record<string, unknown>;
  created_at: number;
  updated_at: number;
}

const toRecord = (row: Row | undefined): AccountRecord | undefined =>
  row && {
    id: row.id,
    username: row.username,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    passwordHash: row.password_hash,
    claims: row.claims,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };

const columns = 'a.id, a.username, a.email, a.email_verified, a.name, a.password_hash, a.claims, a.created_at, a.updated_at';

const sql = {
  insert: `INSERT INTO accounts (id, username, username_norm, email, email_norm, email_verified, name, password_hash, claims, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
  addLogin: 'INSERT INTO account_logins (login, account_id, kind) VALUES ($1, $2, $3)',
  loginTaken: 'SELECT 1 FROM account_logins WHERE login = $1',
  byId: `SELECT ${columns} FROM accounts a WHERE a.id = $1`,
  byLogin: `SELECT ${columns} FROM account_logins l JOIN accounts a ON a.id = l.account_id WHERE l.login = $1`,
  list: `SELECT ${columns} FROM accounts a ORDER BY a.username_norm COLLATE "C"`,
  setPassword: 'UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3',
  usernameOf: 'SELECT username_norm FROM accounts WHERE id = $1 FOR UPDATE',
  dropEmailLogin: "DELETE FROM account_logins WHERE account_id = $1 AND kind = 'email'",
  setEmail: 'UPDATE accounts SET email = $1, email_norm = $2, email_verified = $3, updated_at = $4 WHERE id = $5',
  markVerified: 'UPDATE accounts SET email_verified = TRUE, updated_at = $1 WHERE id = $2 AND email_norm = $3',
  remove: 'DELETE FROM accounts WHERE id = $1',
  setProfile: 'UPDATE accounts SET name = CASE WHEN $2 THEN $3 ELSE name END, claims = COALESCE($4::json, claims), updated_at = $5 WHERE id = $1',
};

/**
 * A page of accounts in (username_norm, id) order by code point (COLLATE "C"), the order of the
 * index `accounts_page_order`: PostgreSQL reads it from the key on and stops after LIMIT rows.
 * `contains` is matched with position(), so `%`, `_` and `\` are plain characters; lower() folds
 * case as the database's locale does (every letter under a UTF-8 locale, ASCII only under C).
 */
export function pageQuery({ after, limit, contains }: AccountPageQuery): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  const where: string[] = [];
  if (after) where.push(`(a.username_norm COLLATE "C", a.id COLLATE "C") > (${param(after.usernameNorm)}, ${param(after.id)})`);
  if (contains !== undefined) {
    const needle = `lower(${param(contains)}::text)`;
    where.push(`(${['a.username', 'a.email', 'a.name'].map((c) => `position(${needle} in lower(${c})) > 0`).join(' OR ')})`);
  }
  const text = `SELECT ${columns} FROM accounts a${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
    ORDER BY a.username_norm COLLATE "C", a.id COLLATE "C" LIMIT ${param(limit)}`;
  return { text, values };
}

/** The login names of an account: its username, and its email unless that is its own username. */
const loginsOf = (usernameNorm: string, emailNorm: string | null) =>
  [[usernameNorm, 'username'], ...(emailNorm !== null && emailNorm !== usernameNorm ? [[emailNorm, 'email']] : [])] as const;

async function addLogins(client: PoolClient, id: string, usernameNorm: string, emailNorm: string | null) {
  for (const [login, kind] of loginsOf(usernameNorm, emailNorm)) await client.query(sql.addLogin, [login, id, kind]);
}

/**
 * Accounts, and their login names in `account_logins` (primary key: the normalised name), so
 * uniqueness across usernames AND emails is the database's, not a check that parallel sign-ups
 * could both pass.
 */
export function createPgAccounts(db: Db, now: () => number, cache: RowCache<AccountRecord>): AccountStore {
  /** Runs a write, then forgets this process's cached accounts (whether or not it succeeded). */
  const changing = async <T>(write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      cache.clear();
    }
  };
  return {
    async create(account) {
      const at = now();
      const usernameNorm = normalizeLogin(account.username);
      const emailNorm = account.email ? normalizeLogin(account.email) : null;
      try {
        await db.tx(async (client) => {
          await client.query(sql.insert, [
            account.id, account.username, usernameNorm, account.email, emailNorm,
            account.emailVerified, account.name, account.passwordHash, JSON.stringify(account.claims), at,
          ]);
          await addLogins(client, account.id, usernameNorm, emailNorm);
        });
      } catch (err) {
        const constraint = uniqueViolation(err);
        if (constraint === undefined || constraint === 'accounts_pkey') throw err;
        const taken = (await db.query(sql.loginTaken, [usernameNorm])).rowCount > 0;
        throw new DuplicateError(taken || constraint === 'accounts_username_norm_key' ? 'username' : 'email');
      }
      return { ...account, createdAt: at, updatedAt: at };
    },
    // Returns a shared, frozen object (cached per process: see change-feed.ts). Sign-in's
    // findByLogin always reads the database.
    async findById(id) {
      if (!isPgKey(id)) return undefined;
      return cache.find(id, async () => toRecord((await db.query<Row>(sql.byId, [id])).rows[0]));
    },
    async findByLogin(login) {
      const key = typeof login === 'string' ? normalizeLogin(login) : undefined;
      return isPgKey(key) ? toRecord((await db.query<Row>(sql.byLogin, [key])).rows[0]) : undefined;
    },
    async list() {
      return (await db.query<Row>(sql.list)).rows.map((row) => toRecord(row)!);
    },
    async page(query) {
      // no text in PostgreSQL holds a NUL (and it may not be sent as a parameter)
      if (query.contains?.includes('\0')) return [];
      const { text, values } = pageQuery(query);
      return (await db.query<Row>(text, values)).rows.map((row) => toRecord(row)!);
    },
    async setPasswordHash(id, passwordHash) {
      return isPgKey(id) && changing(async () => (await db.query(sql.setPassword, [passwordHash, now(), id])).rowCount === 1);
    },
    async setEmail(id, email, verified) {
      if (!isPgKey(id)) return false;
      const emailNorm = email === null ? null : normalizeLogin(email);
      try {
        return await changing(() => db.tx(async (client) => {
          const { rows } = await client.query<{ username_norm: string }>(sql.usernameOf, [id]);
          if (!rows[0]) return false;
          await client.query(sql.dropEmailLogin, [id]);
          for (const [login, kind] of loginsOf(rows[0].username_norm, emailNorm)) {
            if (kind === 'email') await client.query(sql.addLogin, [login, id, kind]);
          }
          await client.query(sql.setEmail, [email, emailNorm, verified, now(), id]);
          return true;
        }));
      } catch (err) {
        if (uniqueViolation(err) !== undefined) throw new DuplicateError('email');
        throw err;
      }
    },
    async markEmailVerified(id, email) {
      return isPgKey(id) && changing(async () => (await db.query(sql.markVerified, [now(), id, normalizeLogin(email)])).rowCount === 1);
    },
    async setProfile(id, { name, claims }) {
      if (!isPgKey(id)) return false;
      const values = [id, name !== undefined, name ?? null, claims === undefined ? null : JSON.stringify(claims), now()];
      return changing(async () => (await db.query(sql.setProfile, values)).rowCount === 1);
    },
    async remove(id) {
      // its login names go with it (ON DELETE CASCADE)
      return isPgKey(id) && changing(async () => (await db.query(sql.remove, [id])).rowCount === 1);
    },
  };
}
