import type { Db } from 'mongodb';

import type { ConsentRecord, ConsentStore } from '../types.js';
import { asKey } from './queries.js';

interface ConsentDoc {
  accountId: string;
  clientId: string;
  scope: string;
  claims: string[];
  resources: Record<string, string>;
  updatedAt: Date;
  /** written by idport before consents held what was agreed: the one grant that held it */
  grantId?: string;
}

const toConsent = (doc: ConsentDoc): ConsentRecord => ({
  accountId: doc.accountId,
  clientId: doc.clientId,
  scope: doc.scope ?? '',
  claims: doc.claims ?? [],
  resources: doc.resources ?? {},
  updatedAt: doc.updatedAt.getTime(),
});

/**
 * Consents written before each sign-in had a grant of its own pointed at a grant; they take what
 * that grant held (idempotent: run at every start, it finds nothing once done).
 */
export async function upgradeConsents(db: Db): Promise<number> {
  const consents = db.collection<ConsentDoc>('consents');
  const grants = db.collection<{ _id: string; payload: { openid?: { scope?: string; claims?: string[] }; resources?: Record<string, string> } }>('oidc_grant');
  let upgraded = 0;
  for await (const old of consents.find({ scope: { $exists: false } })) {
    const grant = old.grantId ? await grants.findOne({ _id: old.grantId }) : null;
    if (!grant) {
      await consents.deleteOne({ accountId: old.accountId, clientId: old.clientId, scope: { $exists: false } });
      continue;
    }
    const { openid, resources } = grant.payload;
    await consents.updateOne(
      { accountId: old.accountId, clientId: old.clientId, scope: { $exists: false } },
      { $set: { scope: openid?.scope ?? '', claims: openid?.claims ?? [], resources: resources ?? {} }, $unset: { grantId: '' } },
    );
    upgraded += 1;
  }
  return upgraded;
}

export function createMongoConsents(db: Db, now: () => number): ConsentStore {
  const consents = db.collection<ConsentDoc>('consents');
  const key = (accountId: string, clientId: string) => ({ accountId: asKey(accountId, 'accountId'), clientId: asKey(clientId, 'clientId') });
  return {
    async remember({ accountId, clientId, scope, claims, resources }) {
      await consents.updateOne(
        key(accountId, clientId),
        { $set: { scope, claims: [...claims], resources: { ...resources }, updatedAt: new Date(now()) }, $unset: { grantId: '' } },
        { upsert: true },
      );
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
    async forgetAccount(accountId) {
      return (await consents.deleteMany({ accountId: asKey(accountId, 'accountId') })).deletedCount;
    },
  };
}
