import { MongoServerError, type Db } from 'mongodb';

import { isStoreKey } from '../lookup-key.js';
import { normalizeLogin } from '../normalize.js';
import { DuplicateError, type AccountRecord, type AccountStore } from '../types.js';
import { accountPageFilter, accountPageSort, asKey } from './queries.js';

interface AccountDoc {
  _id: string;
  username: string;
  usernameNorm: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  passwordHash: string;
  claims: Record<string, unknown>;
  /** every normalised name the account can log in with; a unique multikey index keeps them unique across accounts */
  loginKeys: string[];
  createdAt: Date;
  updatedAt: Date;
}

const toRecord = (doc: AccountDoc | null): AccountRecord | undefined =>
  doc
    ? {
        id: doc._id,
        username: doc.username,
        email: doc.email,
        emailVerified: doc.emailVerified,
        name: doc.name,
        passwordHash: doc.passwordHash,
        claims: doc.claims ?? {},
        createdAt: doc.createdAt.getTime(),
        updatedAt: doc.updatedAt.getTime(),
      }
    : undefined;

export function createMongoAccounts(db: Db, now: () => number): AccountStore {
  const accounts = db.collection<AccountDoc>('accounts');
  return {
    async create(account) {
      const usernameNorm = normalizeLogin(account.username);
      const loginKeys = [...new Set([usernameNorm, ...(account.email ? [normalizeLogin(account.email)] : [])])];
      const at = new Date(now());
      try {
        await accounts.insertOne({ _id: asKey(account.id), ...account, usernameNorm, loginKeys, createdAt: at, updatedAt: at });
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) {
          const taken = await accounts.findOne({ loginKeys: usernameNorm }, { projection: { _id: 1 } });
          throw new DuplicateError(taken ? 'username' : 'email');
        }
        throw err;
      }
      return { ...account, createdAt: at.getTime(), updatedAt: at.getTime() };
    },
    // A value no store may look up (over 1,024 characters) is simply not found: no query is sent.
    async findById(id) {
      return isStoreKey(id) ? toRecord(await accounts.findOne({ _id: id })) : undefined;
    },
    async findByLogin(login) {
      const key = typeof login === 'string' ? normalizeLogin(login) : undefined;
      return isStoreKey(key) ? toRecord(await accounts.findOne({ loginKeys: key })) : undefined;
    },
    async list() {
      return (await accounts.find().sort(accountPageSort).toArray()).map((doc) => toRecord(doc)!);
    },
    async page({ after, limit, contains }) {
      // MongoDB refuses a regular expression with a NUL in it: such a needle matches nothing
      if (contains?.includes('\0')) return [];
      const docs = await accounts.find(accountPageFilter({ after, contains })).sort(accountPageSort).limit(limit).toArray();
      return docs.map((doc) => toRecord(doc)!);
    },
    async setPasswordHash(id, passwordHash) {
      if (!isStoreKey(id)) return false;
      const result = await accounts.updateOne({ _id: asKey(id) }, { $set: { passwordHash, updatedAt: new Date(now()) } });
      return result.matchedCount === 1;
    },
    async setEmail(id, email, verified) {
      if (!isStoreKey(id)) return false;
      const doc = await accounts.findOne({ _id: id }, { projection: { usernameNorm: 1 } });
      if (!doc) return false;
      const loginKeys = [...new Set([doc.usernameNorm, ...(email ? [normalizeLogin(email)] : [])])];
      try {
        const result = await accounts.updateOne({ _id: id }, { $set: { email, emailVerified: verified, loginKeys, updatedAt: new Date(now()) } });
        return result.matchedCount === 1;
      } catch (err) {
        // the unique index on loginKeys: someone else's username or email
        if (err instanceof MongoServerError && err.code === 11000) throw new DuplicateError('email');
        throw err;
      }
    },
    async setProfile(id, { name, claims }) {
      if (!isStoreKey(id)) return false;
      const set = { ...(name !== undefined ? { name } : {}), ...(claims !== undefined ? { claims } : {}), updatedAt: new Date(now()) };
      return (await accounts.updateOne({ _id: id }, { $set: set })).matchedCount === 1;
    },
    async markEmailVerified(id, email) {
      if (!isStoreKey(id)) return false;
      const doc = await accounts.findOne({ _id: id }, { projection: { email: 1 } });
      if (!doc?.email || normalizeLogin(doc.email) !== normalizeLogin(email)) return false;
      // conditional on the email just read: a change in between makes this match nothing
      const result = await accounts.updateOne({ _id: id, email: doc.email }, { $set: { emailVerified: true, updatedAt: new Date(now()) } });
      return result.matchedCount === 1;
    },
    async remove(id) {
      return isStoreKey(id) && (await accounts.deleteOne({ _id: id })).deletedCount === 1;
    },
  };
}
