import type { Db } from 'mongodb';

import { isStoreKey } from '../lookup-key.js';
import type { ApiRecord, ApiStore } from '../types.js';
import { asKey } from './queries.js';

interface ApiDoc extends Omit<ApiRecord, 'audience' | 'createdAt' | 'updatedAt'> {
  _id: string;
  createdAt: Date;
  updatedAt: Date;
}

const toApi = (doc: ApiDoc): ApiRecord => ({
  audience: doc._id,
  name: doc.name,
  scopes: doc.scopes,
  tokenFormat: doc.tokenFormat,
  accessTokenTtl: doc.accessTokenTtl,
  createdAt: doc.createdAt.getTime(),
  updatedAt: doc.updatedAt.getTime(),
});

export function createMongoApis(db: Db, now: () => number): ApiStore {
  const apis = db.collection<ApiDoc>('apis');
  return {
    async upsert({ audience, ...api }) {
      const at = new Date(now());
      await apis.updateOne({ _id: asKey(audience, 'audience') }, { $set: { ...api, updatedAt: at }, $setOnInsert: { createdAt: at } }, { upsert: true });
    },
    async find(audience) {
      if (!isStoreKey(audience)) return undefined;
      const doc = await apis.findOne({ _id: audience });
      return doc ? toApi(doc) : undefined;
    },
    async list() {
      return (await apis.find().sort({ _id: 1 }).toArray()).map(toApi);
    },
    async remove(audience) {
      return isStoreKey(audience) && (await apis.deleteOne({ _id: audience })).deletedCount === 1;
    },
  };
}
