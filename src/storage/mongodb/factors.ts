import { MongoServerError, type Db } from 'mongodb';

import { isStoreKey } from '../lookup-key.js';
import { DuplicateError, type FactorStore, type PasskeyRecord } from '../types.js';
import { asKey } from './queries.js';

interface PasskeyDoc extends Omit<PasskeyRecord, 'id' | 'createdAt' | 'lastUsedAt'> {
  _id: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface TotpDoc {
  _id: string;
  material: Record<string, unknown>;
  createdAt: Date;
}

interface RecoveryDoc {
  accountId: string;
  hash: string;
}

const toPasskey = ({ _id, createdAt, lastUsedAt, ...rest }: PasskeyDoc): PasskeyRecord => ({
  ...rest,
  id: _id,
  createdAt: createdAt.getTime(),
  lastUsedAt: lastUsedAt ? lastUsedAt.getTime() : null,
});

/** Passkeys by credential id, TOTP secrets by account, recovery codes one document each. */
export function createMongoFactors(db: Db, now: () => number): FactorStore {
  const passkeys = db.collection<PasskeyDoc>('passkeys');
  const totp = db.collection<TotpDoc>('totp_secrets');
  const codes = db.collection<RecoveryDoc>('recovery_codes');
  const account = (id: string) => asKey(id, 'accountId');

  return {
    async addPasskey({ id, ...rest }) {
      try {
        await passkeys.insertOne({ ...rest, _id: asKey(id, 'id'), createdAt: new Date(now()), lastUsedAt: null });
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) throw new DuplicateError('passkey');
        throw err;
      }
    },
    async findPasskey(id) {
      if (!isStoreKey(id)) return undefined;
      const doc = await passkeys.findOne({ _id: id });
      return doc ? toPasskey(doc) : undefined;
    },
    async listPasskeys(accountId) {
      return (await passkeys.find({ accountId: account(accountId) }).sort({ createdAt: 1, _id: 1 }).toArray()).map(toPasskey);
    },
    async renamePasskey(accountId, id, name) {
      if (!isStoreKey(id)) return false;
      return (await passkeys.updateOne({ _id: id, accountId: account(accountId) }, { $set: { name } })).matchedCount === 1;
    },
    async removePasskey(accountId, id) {
      if (!isStoreKey(id)) return false;
      return (await passkeys.deleteOne({ _id: id, accountId: account(accountId) })).deletedCount === 1;
    },
    async usePasskey(id, counter) {
      if (!isStoreKey(id)) return false;
      // one conditional update: the counter check and the write cannot be split by another sign-in
      const forward = counter === 0 ? { counter: 0 } : { counter: { $lt: counter } };
      const { matchedCount } = await passkeys.updateOne({ _id: id, ...forward }, { $set: { counter, lastUsedAt: new Date(now()) } });
      return matchedCount === 1;
    },
    async setTotp(accountId, material) {
      await totp.replaceOne({ _id: account(accountId) }, { material, createdAt: new Date(now()) }, { upsert: true });
    },
    async getTotp(accountId) {
      const doc = await totp.findOne({ _id: account(accountId) });
      return doc ? { accountId, material: doc.material, createdAt: doc.createdAt.getTime() } : undefined;
    },
    async removeTotp(accountId) {
      return (await totp.deleteOne({ _id: account(accountId) })).deletedCount === 1;
    },
    async setRecoveryCodes(accountId, hashes) {
      await codes.deleteMany({ accountId: account(accountId) });
      if (hashes.length) await codes.insertMany([...new Set(hashes)].map((hash) => ({ accountId, hash })), { ordered: false });
    },
    async useRecoveryCode(accountId, hash) {
      if (!isStoreKey(hash)) return false;
      return (await codes.deleteOne({ accountId: account(accountId), hash })).deletedCount === 1;
    },
    async countRecoveryCodes(accountId) {
      return codes.countDocuments({ accountId: account(accountId) });
    },
    async removeAll(accountId) {
      await Promise.all([
        passkeys.deleteMany({ accountId: account(accountId) }),
        totp.deleteOne({ _id: account(accountId) }),
        codes.deleteMany({ accountId: account(accountId) }),
      ]);
    },
  };
}
