import { MongoServerError, type Db } from 'mongodb';

import { isStoreKey } from '../lookup-key.js';
import { DuplicateError, type RegistrationTokenRecord, type RegistrationTokenStore } from '../types.js';
import { asKey } from './queries.js';

interface TokenDoc {
  _id: string;
  hash: string;
  maxUses: number | null;
  used: number;
  createdAt: Date;
  expiresAt: Date;
}

const toToken = (doc: TokenDoc): RegistrationTokenRecord => ({
  id: doc._id,
  hash: doc.hash,
  maxUses: doc.maxUses,
  used: doc.used,
  createdAt: doc.createdAt.getTime(),
  expiresAt: doc.expiresAt.getTime(),
});

/** Initial access tokens; a use is one conditional findOneAndUpdate, so parallel uses never overrun. */
export function createMongoRegistrationTokens(db: Db, now: () => number): RegistrationTokenStore {
  const tokens = db.collection<TokenDoc>('registration_tokens');
  return {
    async create({ id, hash, maxUses, expiresAt }) {
      try {
        await tokens.insertOne({ _id: asKey(id, 'id'), hash: asKey(hash, 'hash'), maxUses, used: 0, createdAt: new Date(now()), expiresAt: new Date(expiresAt) });
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) throw new DuplicateError(err.keyPattern?.hash !== undefined ? 'hash' : 'id');
        throw err;
      }
    },
    async list() {
      const docs = await tokens.find({ expiresAt: { $gt: new Date(now()) } }).sort({ createdAt: 1, _id: 1 }).toArray();
      return docs.map(toToken);
    },
    async revoke(id) {
      return isStoreKey(id) && (await tokens.deleteOne({ _id: id })).deletedCount === 1;
    },
    async use(hash) {
      if (!isStoreKey(hash)) return undefined;
      const doc = await tokens.findOneAndUpdate(
        { hash, expiresAt: { $gt: new Date(now()) }, $or: [{ maxUses: null }, { $expr: { $lt: ['$used', '$maxUses'] } }] },
        { $inc: { used: 1 } },
        { returnDocument: 'after' },
      );
      return doc ? toToken(doc) : undefined;
    },
    async giveBack(id) {
      if (isStoreKey(id)) await tokens.updateOne({ _id: id, used: { $gt: 0 } }, { $inc: { used: -1 } });
    },
  };
}
