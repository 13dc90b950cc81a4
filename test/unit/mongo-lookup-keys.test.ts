/**
 * The MongoDB store answers lookups of values no store may hold (over 1,024 characters, or not a
 * string) with "not found", without sending a query. No MongoDB server runs here, so the store
 * functions are built over a stand-in Db whose every collection method fails the test when called
 * (the contract suite checks the same promise against a real server when MONGODB_URI is set).
 */
import type { Db } from 'mongodb';

import { createMongoAccounts } from '../../src/storage/mongodb/accounts.js';
import { createMongoApis } from '../../src/storage/mongodb/apis.js';
import { createMongoClients } from '../../src/storage/mongodb/clients.js';
import { createMongoOidcRecords } from '../../src/storage/mongodb/oidc-records.js';

/** A Db whose collections record and refuse every call: any query sent is a failure. */
function dbThatMustNotBeQueried() {
  const sent: string[] = [];
  const collection = (name: string) =>
    new Proxy(
      {},
      {
        get: (_target, method) => () => {
          sent.push(`${name}.${String(method)}`);
          throw new Error(`a query was sent: ${name}.${String(method)}`);
        },
      },
    );
  return { db: { collection } as unknown as Db, sent };
}

const now = () => Date.UTC(2030, 0, 1);
const unfindable: unknown[] = ['k'.repeat(1025), 'k'.repeat(2000), '', { $ne: null }, ['a']];

describe('MongoDB store: lookup values it may not hold are not found, and no query is sent', () => {
  test('oidc-provider models: find, findByUid, findByUserCode, consume, destroy, revokeByGrantId', async () => {
    const { db, sent } = dbThatMustNotBeQueried();
    const records = createMongoOidcRecords(db, now);
    for (const name of ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'Session', 'DeviceCode', 'Grant', 'Interaction']) {
      const m = records.model(name);
      for (const value of unfindable as string[]) {
        expect(await m.find(value)).toBeUndefined();
        expect(await m.findByUid(value)).toBeUndefined();
        expect(await m.findByUserCode(value)).toBeUndefined();
        expect(await m.consume(value)).toBe(false);
        await expect(m.destroy(value)).resolves.toBeUndefined();
        await expect(m.revokeByGrantId(value)).resolves.toBeUndefined();
      }
    }
    expect(sent).toEqual([]);
    // The stand-in does catch queries: an ordinary value (1,024 characters at most) is looked up.
    await expect(records.model('AccessToken').find('k'.repeat(1024))).rejects.toThrow('a query was sent');
    expect(sent).toEqual(['oidc_access_token.findOne']);
  });

  test('accounts, clients and APIs: find answers undefined, changes answer false', async () => {
    const { db, sent } = dbThatMustNotBeQueried();
    const accounts = createMongoAccounts(db, now);
    const clients = createMongoClients(db, now);
    const apis = createMongoApis(db, now);
    for (const value of unfindable as string[]) {
      expect(await accounts.findById(value)).toBeUndefined();
      expect(await accounts.findByLogin(value)).toBeUndefined();
      expect(await accounts.setPasswordHash(value, 'hash')).toBe(false);
      expect(await accounts.remove(value)).toBe(false);
      expect(await clients.find(value)).toBeUndefined();
      expect(await clients.remove(value)).toBe(false);
      expect(await apis.find(value)).toBeUndefined();
      expect(await apis.remove(value)).toBe(false);
    }
    expect(sent).toEqual([]);
    await expect(accounts.findByLogin('alice')).rejects.toThrow('a query was sent');
    expect(sent).toEqual(['accounts.findOne']);
  });
});
