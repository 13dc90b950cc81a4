import { MongoServerError, type Db } from 'mongodb';

import { isStoreKey } from '../lookup-key.js';
import { DuplicateError, type UpstreamLinkRecord, type UpstreamLinkStore, type UpstreamRecord, type UpstreamStore } from '../types.js';
import { asKey } from './queries.js';

interface UpstreamDoc extends Omit<UpstreamRecord, 'id' | 'createdAt' | 'updatedAt'> {
  _id: string;
  createdAt: Date;
  updatedAt: Date;
}

interface LinkDoc {
  _id: { upstreamId: string; subject: string };
  accountId: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const toUpstream = ({ _id, createdAt, updatedAt, ...rest }: UpstreamDoc): UpstreamRecord => ({
  id: _id,
  ...rest,
  createdAt: createdAt.getTime(),
  updatedAt: updatedAt.getTime(),
});

const toLink = (doc: LinkDoc): UpstreamLinkRecord => ({
  upstreamId: doc._id.upstreamId,
  subject: doc._id.subject,
  accountId: doc.accountId,
  createdAt: doc.createdAt.getTime(),
  lastUsedAt: doc.lastUsedAt ? doc.lastUsedAt.getTime() : null,
});

/** links are found by `_id` ({ upstreamId, subject }, in that field order) */
const linkId = (upstreamId: string, subject: string) => ({ upstreamId, subject });

export function createMongoUpstreams(db: Db, now: () => number): UpstreamStore {
  const upstreams = db.collection<UpstreamDoc>('upstreams');
  const links = db.collection<LinkDoc>('upstream_links');
  return {
    async upsert({ id, ...upstream }) {
      const at = new Date(now());
      await upstreams.updateOne({ _id: asKey(id, 'id') }, { $set: { ...upstream, updatedAt: at }, $setOnInsert: { createdAt: at } }, { upsert: true });
    },
    async find(id) {
      if (!isStoreKey(id)) return undefined;
      const doc = await upstreams.findOne({ _id: id });
      return doc ? toUpstream(doc) : undefined;
    },
    async list() {
      return (await upstreams.find().sort({ _id: 1 }).toArray()).map(toUpstream);
    },
    async remove(id) {
      if (!isStoreKey(id)) return false;
      const removed = (await upstreams.deleteOne({ _id: id })).deletedCount === 1;
      // no cascade in MongoDB: the links go after the upstream, and again if a retry finds it gone
      await links.deleteMany({ '_id.upstreamId': id });
      return removed;
    },
  };
}

export function createMongoUpstreamLinks(db: Db, now: () => number): UpstreamLinkStore {
  const links = db.collection<LinkDoc>('upstream_links');
  const valid = (...keys: string[]) => keys.every(isStoreKey);
  return {
    async link(upstreamId, subject, accountId) {
      try {
        await links.insertOne({ _id: linkId(asKey(upstreamId, 'upstreamId'), asKey(subject, 'subject')), accountId: asKey(accountId, 'accountId'), createdAt: new Date(now()), lastUsedAt: null });
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) throw new DuplicateError('subject');
        throw err;
      }
    },
    async find(upstreamId, subject) {
      if (!valid(upstreamId, subject)) return undefined;
      const doc = await links.findOne({ _id: linkId(upstreamId, subject) });
      return doc ? toLink(doc) : undefined;
    },
    async listByAccount(accountId) {
      if (!valid(accountId)) return [];
      return (await links.find({ accountId }).sort({ createdAt: 1, '_id.upstreamId': 1, '_id.subject': 1 }).toArray()).map(toLink);
    },
    async touch(upstreamId, subject) {
      if (!valid(upstreamId, subject)) return;
      await links.updateOne({ _id: linkId(upstreamId, subject) }, { $set: { lastUsedAt: new Date(now()) } });
    },
    async unlink(accountId, upstreamId, subject) {
      if (!valid(accountId, upstreamId, subject)) return false;
      return (await links.deleteOne({ _id: linkId(upstreamId, subject), accountId })).deletedCount === 1;
    },
    async removeAccount(accountId) {
      if (!valid(accountId)) return 0;
      return (await links.deleteMany({ accountId })).deletedCount;
    },
  };
}
