import type { Db } from 'mongodb';

import { boundKeys } from '../bound-keys.js';
import { isStoreKey } from '../lookup-key.js';
import type { OidcModelStore, OidcPayload } from '../types.js';
import { accountBoundModels, collectionFor, grantBoundModels } from './indexes.js';
import { byGrant, consumable, consumeUpdate, liveById, liveByField, asKey } from './queries.js';

interface RecordDoc {
  _id: string;
  payload: OidcPayload;
  grantId?: string;
  userCode?: string;
  uid?: string;
  /** Session and Grant records only: findByAccount's field */
  accountId?: string;
  expiresAt: Date | null;
  consumedAt: Date | null;
}

const toPayload = (doc: RecordDoc | null): OidcPayload | undefined => {
  if (!doc) return undefined;
  const payload = { ...doc.payload };
  if (doc.consumedAt) payload.consumed = Math.floor(doc.consumedAt.getTime() / 1000);
  return payload;
};

const optional = (name: string, value: unknown) => (typeof value === 'string' ? { [name]: value } : {});

/** One collection per oidc-provider model; the payload is a sub-document, lookups use top-level fields. */
export function createMongoOidcRecords(db: Db, now: () => number) {
  const collection = (model: string) => db.collection<RecordDoc>(collectionFor(model));

  const model = (name: string): OidcModelStore => {
    const records = collection(name);
    // A value no store may look up (over 1,024 characters) is simply not found: no query is sent.
    const find = async (id: string) => (isStoreKey(id) ? toPayload(await records.findOne(liveById(id, new Date(now())))) : undefined);
    return {
      async upsert(id, payload, expiresIn) {
        const doc = {
          payload,
          ...optional('grantId', payload.grantId),
          ...optional('userCode', payload.userCode),
          ...optional('uid', payload.uid),
          ...(accountBoundModels.includes(name) ? optional('accountId', payload.accountId) : {}),
          expiresAt: expiresIn ? new Date(now() + expiresIn * 1000) : null,
        };
        // replaceOne keeps consumedAt out of the payload; a re-save starts unconsumed, like SQLite.
        await records.replaceOne({ _id: asKey(id, 'id') }, { ...doc, consumedAt: null }, { upsert: true });
      },
      find,
      // Three lookups, the grant's and the session's at once: MongoDB reads each at its own moment.
      async findBound(id) {
        const token = await find(id);
        if (!token) return undefined;
        const { grantId, sessionUid } = boundKeys(token);
        const [grant, session] = await Promise.all([
          grantId === undefined ? undefined : model('Grant').find(grantId),
          sessionUid === undefined ? undefined : model('Session').findByUid(sessionUid),
        ]);
        return { token, grant, session };
      },
      async findByUid(uid) {
        if (!isStoreKey(uid)) return undefined;
        return toPayload(await records.findOne(liveByField('uid', uid, new Date(now()))));
      },
      async findByUserCode(userCode) {
        if (!isStoreKey(userCode)) return undefined;
        return toPayload(await records.findOne(liveByField('userCode', userCode, new Date(now()))));
      },
      async consume(id) {
        if (!isStoreKey(id)) return false;
        const at = new Date(now());
        const result = await records.findOneAndUpdate(consumable(id, at), consumeUpdate(at), { projection: { _id: 1 } });
        return result !== null;
      },
      async destroy(id) {
        if (!isStoreKey(id)) return;
        await records.deleteOne({ _id: asKey(id, 'id') });
      },
      async findByAccount(accountId) {
        if (!accountBoundModels.includes(name) || typeof accountId !== 'string' || !accountId || accountId.length > 1024) return [];
        const docs = await records.find(liveByField('accountId', accountId, new Date(now()))).toArray();
        return docs.map((doc) => ({ id: doc._id, payload: toPayload(doc)! }));
      },
      async revokeByGrantId(grantId) {
        if (!isStoreKey(grantId)) return;
        await Promise.all([
          ...grantBoundModels.map((m) => collection(m).deleteMany(byGrant(grantId))),
          collection('Grant').deleteOne({ _id: asKey(grantId, 'grantId') }),
        ]);
      },
    };
  };

  return { model };
}
