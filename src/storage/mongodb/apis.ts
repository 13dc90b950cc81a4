import type { Db } from 'mongodb';

import type { ApiRecord, ApiStore, ConsentRecord, ConsentStore } from '../types.js';
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
      const doc = await apis.findOne({ _id: asKey(audience, 'audience') });
      return doc ? toApi(doc) : undefined;
    },
    async list() {
      return (await apis.find().sort({ _id: 1 }).toArray()).map(toApi);
    },
    async remove(audience) {
      return (await apis.deleteOne({ _id: asKey(audience, 'audience') })).deletedCount === 1;
    },
  };
}

interface ConsentDoc {
  accountId: string;
  clientId: string;
  grantId: string;
  updatedAt: Date;
}

export function createMongoConsents(db: Db, now: () => number): ConsentStore {
  const consents = db.collection<ConsentDoc>('consents');
  const toConsent = (doc: ConsentDoc): ConsentRecord => ({ ...doc, updatedAt: doc.updatedAt.getTime() });
  const key = (accountId: string, clientId: string) => ({ accountId: asKey(accountId, 'accountId'), clientId: asKey(clientId, 'clientId') });
  return {
    async remember(accountId, clientId, grantId) {
      await consents.updateOne(key(accountId, clientId), { $set: { grantId: asKey(grantId, 'grantId'), updatedAt: new Date(now()) } }, { upsert: true });
    },
    async find(accountId, clientId) {
      const doc = await consents.findOne(key(accountId, clientId), { projection: { _id: 0 } });
      return doc ? toConsent(doc) : undefined;
    },
    async listByAccount(accountId) {
      const docs = await consents.find({ accountId: asKey(accountId, 'accountId') }, { projection: { _id: 0 } }).sort({ updatedAt: -1, clientId: 1 }).toArray();
      return docs.map(toConsent);
    },
    async forget(accountId, clientId) {
      return (await consents.deleteOne(key(accountId, clientId))).deletedCount === 1;
    },
  };
}
