import { MongoServerError, type Db } from 'mongodb';

import { isStoreKey } from '../lookup-key.js';
import type { CounterEntry, CounterStore } from '../types.js';

interface CounterDoc {
  _id: string;
  state: Record<string, number>;
  expiresAt: Date;
  /** bumped by every write: the compare-and-set that makes `update` atomic */
  rev: number;
}

/** How often `update` retries after losing a race for one key before giving up. */
const maxAttempts = 50;

const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

/**
 * Counters and locks as one document each. `update` is an optimistic compare-and-set on `rev`:
 * read, compute, write only if nobody wrote in between, else read again.
 */
export function createMongoCounters(db: Db, now: () => number): CounterStore {
  const counters = db.collection<CounterDoc>('counters');
  const live = (doc: CounterDoc | null, at: number): CounterEntry | undefined =>
    doc && doc.expiresAt.getTime() > at ? { state: doc.state, expiresAt: doc.expiresAt.getTime() } : undefined;

  /** One try: the entry stored (or undefined when deleted), or `conflict` when another write came first. */
  async function tryUpdate(key: string, change: Parameters<CounterStore['update']>[1]) {
    const at = now();
    const doc = await counters.findOne({ _id: key });
    const next = change(live(doc, at), at);
    const fields = next && { state: { ...next.state }, expiresAt: new Date(next.expiresAt) };
    if (!doc) {
      if (!fields) return { next };
      try {
        await counters.insertOne({ _id: key, ...fields, rev: 1 });
        return { next };
      } catch (err) {
        if (isDuplicate(err)) return 'conflict' as const;
        throw err;
      }
    }
    const same = { _id: key, rev: doc.rev };
    const written = fields
      ? (await counters.replaceOne(same, { ...fields, rev: doc.rev + 1 })).matchedCount
      : (await counters.deleteOne(same)).deletedCount;
    return written === 1 ? { next } : ('conflict' as const);
  }

  return {
    async update(key, change) {
      if (!isStoreKey(key)) throw new TypeError('a counter key must be a string of 1 to 1,024 characters');
      for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
        const result = await tryUpdate(key, change);
        if (result !== 'conflict') return result.next;
      }
      throw new Error(`counter ${key}: too many conflicting writes`);
    },
    async get(key) {
      return isStoreKey(key) ? live(await counters.findOne({ _id: key }), now()) : undefined;
    },
    async delete(key) {
      if (isStoreKey(key)) await counters.deleteOne({ _id: key });
    },
  };
}
