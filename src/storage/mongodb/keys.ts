import { MongoServerError, type Collection, type Db } from 'mongodb';

import type { KeyKind, KeyRecord, KeyStore } from '../types.js';
import { activeKeys, asKey, retireUpdate, usableKeys } from './queries.js';

interface KeyDoc {
  _id: string;
  kind: KeyKind;
  /** position in its key set; at most one active key per (kind, slot) — what makes bootstrap race-safe */
  slot: number;
  active?: true;
  /** written but not yet usable (a rotation on a server without transactions, half-way) */
  staged?: true;
  material: Record<string, unknown>;
  createdAt: Date;
  retiredAt: Date | null;
  expiresAt: Date | null;
}

const toDoc = (key: KeyRecord, slot: number): KeyDoc => ({
  _id: key.kid,
  kind: key.kind,
  slot,
  ...(key.retiredAt === null ? { active: true as const } : {}),
  material: key.material,
  createdAt: new Date(key.createdAt),
  retiredAt: key.retiredAt === null ? null : new Date(key.retiredAt),
  expiresAt: key.expiresAt === null ? null : new Date(key.expiresAt),
});

const toRecord = (doc: KeyDoc): KeyRecord => ({
  kid: doc._id,
  kind: doc.kind,
  material: doc.material,
  createdAt: doc.createdAt.getTime(),
  retiredAt: doc.retiredAt ? doc.retiredAt.getTime() : null,
  expiresAt: doc.expiresAt ? doc.expiresAt.getTime() : null,
});

/** A standalone server (development) refuses transactions with IllegalOperation (20). */
const transactionsUnsupported = (err: unknown) => err instanceof MongoServerError && err.code === 20;

/**
 * Rotation on a server without transactions, in an order where a failure leaves the old keys in
 * use: the new keys go in staged (unusable) first, so a bad key set fails before anything is
 * retired; then the old keys are retired and the staged ones activated. Between those two
 * writes there is no active key for an instant, which `ensureKeys` and the key reload tolerate.
 */
async function rotateWithoutTransactions(keys: Collection<KeyDoc>, kind: KeyKind, records: KeyRecord[], retire: ReturnType<typeof retireUpdate>) {
  const staged = records.map((r, slot) => ({ ...toDoc(r, slot), active: undefined, staged: true as const }));
  await keys.insertMany(staged, { ordered: true, ignoreUndefined: true });
  await keys.updateMany(activeKeys(kind), retire);
  await keys.updateMany({ _id: { $in: staged.map((d) => d._id) } }, { $set: { active: true }, $unset: { staged: '' } });
}

export function createMongoKeys(db: Db, now: () => number): KeyStore {
  const keys = db.collection<KeyDoc>('keys');
  const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;
  return {
    async list(kind) {
      const docs = await keys.find(usableKeys(kind, new Date(now()))).sort({ createdAt: -1, _id: 1 }).toArray();
      return docs.map(toRecord);
    },
    async insertIfNone(kind, records) {
      if (await keys.findOne(activeKeys(kind), { projection: { _id: 1 } })) return false;
      try {
        // Ordered: every node inserts slot 0 first, so slot 0 decides the race and the loser
        // inserts nothing (the unique index on active (kind, slot) refuses its first document).
        await keys.insertMany(records.map(toDoc), { ordered: true });
        return true;
      } catch (err) {
        if (isDuplicate(err)) return false;
        throw err;
      }
    },
    // Atomic: one transaction (replica sets and sharded clusters, which production runs on).
    async rotate(kind, records, keepUntil) {
      const retire = retireUpdate(new Date(now()), new Date(keepUntil));
      const session = db.client.startSession();
      try {
        await session.withTransaction(async () => {
          await keys.updateMany(activeKeys(kind), retire, { session });
          await keys.insertMany(records.map(toDoc), { ordered: true, session });
        });
      } catch (err) {
        if (!transactionsUnsupported(err)) throw err;
        await rotateWithoutTransactions(keys, kind, records, retire);
      } finally {
        await session.endSession();
      }
    },
    async setMaterial(kind, kid, material) {
      const { matchedCount } = await keys.updateOne({ _id: asKey(kid, 'kid'), ...usableKeys(kind, new Date(now())) }, { $set: { material } });
      return matchedCount === 1;
    },
  };
}
