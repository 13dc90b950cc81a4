import { MongoServerError, type Db } from 'mongodb';

import type { KeyKind, KeyRecord, KeyStore } from '../types.js';
import { activeKeys, asKey, retireUpdate, usableKeys } from './queries.js';

interface KeyDoc {
  _id: string;
  kind: KeyKind;
  /** position in its key set; at most one active key per (kind, slot) — what makes bootstrap race-safe */
  slot: number;
  active?: true;
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
    async rotate(kind, records, keepUntil) {
      await keys.updateMany(activeKeys(kind), retireUpdate(new Date(now()), new Date(keepUntil)));
      await keys.insertMany(records.map(toDoc), { ordered: true });
    },
    async setMaterial(kind, kid, material) {
      const { matchedCount } = await keys.updateOne({ _id: asKey(kid, 'kid'), ...usableKeys(kind, new Date(now())) }, { $set: { material } });
      return matchedCount === 1;
    },
  };
}
