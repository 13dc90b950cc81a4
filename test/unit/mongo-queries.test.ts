import { collectionFor, indexDefs, oidcModels } from '../../src/storage/mongodb/indexes.js';
import { describeHosts, openMongoStore } from '../../src/storage/mongodb/mongo-store.js';
import {
  accountPageFilter,
  accountPageSort,
  activeKeys,
  asKey,
  byGrant,
  consumable,
  consumeUpdate,
  liveById,
  liveByField,
  literalRegex,
  notExpired,
  retireUpdate,
} from '../../src/storage/mongodb/queries.js';
import { StoreConnectError } from '../../src/storage/errors.js';

const now = new Date('2030-01-01T00:00:00Z');

describe('MongoDB query documents (no server needed)', () => {
  test('lookup values must be plain strings: operator objects and arrays are refused', () => {
    expect(asKey('abc')).toBe('abc');
    for (const bad of [{ $ne: null }, ['a'], '', 42, null, undefined, 'x'.repeat(1025)]) {
      expect(() => asKey(bad)).toThrow(TypeError);
    }
    expect(() => liveById({ $gt: '' } as unknown as string, now)).toThrow(TypeError);
    expect(() => byGrant({ $exists: true } as unknown as string)).toThrow(TypeError);
  });

  test('find filters exclude expired documents the TTL monitor has not yet deleted', () => {
    expect(notExpired(now)).toEqual({ $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] });
    expect(liveById('id1', now)).toEqual({ _id: 'id1', ...notExpired(now) });
    expect(liveByField('uid', 'u1', now)).toEqual({ uid: { $eq: 'u1', $type: 'string' }, ...notExpired(now) });
    expect(liveByField('userCode', 'ABCD', now)).toEqual({ userCode: { $eq: 'ABCD', $type: 'string' }, ...notExpired(now) });
  });

  test('consume is one conditional update: only a live, unconsumed document matches', () => {
    expect(consumable('code1', now)).toEqual({ _id: 'code1', consumedAt: null, ...notExpired(now) });
    expect(consumeUpdate(now)).toEqual({ $set: { consumedAt: now } });
  });

  test('key rotation retires active keys and drops them from the bootstrap index', () => {
    expect(activeKeys('signing')).toEqual({ kind: 'signing', active: true });
    const later = new Date(now.getTime() + 3600_000);
    expect(retireUpdate(now, later)).toEqual({ $set: { retiredAt: now, expiresAt: later }, $unset: { active: '' } });
  });
});

describe('MongoDB pages of accounts (no server needed)', () => {
  test('after a key: the $gte bounds the index scan on usernameNorm, the $or orders by _id within it', () => {
    expect(accountPageFilter({})).toEqual({});
    expect(accountPageFilter({ after: { usernameNorm: 'bob', id: 'sub-1' } })).toEqual({
      usernameNorm: { $gte: 'bob' },
      $or: [{ usernameNorm: { $gt: 'bob' } }, { _id: { $gt: 'sub-1' } }],
    });
    expect(accountPageSort).toEqual({ usernameNorm: 1, _id: 1 });
    // the sort is the index's key, so MongoDB walks it and stops at the limit
    expect(indexDefs().find((d) => d.collection === 'accounts' && d.options.name === 'usernameOrder')?.key).toEqual(accountPageSort);
  });

  test('contains: an escaped, case-insensitive regex over username, email and name, with the key when both are given', () => {
    const pattern = { $regex: 'a\\.b', $options: 'i' };
    expect(accountPageFilter({ contains: 'a.b' })).toEqual({ $or: [{ username: pattern }, { email: pattern }, { name: pattern }] });
    expect(accountPageFilter({ after: { usernameNorm: 'x', id: 'y' }, contains: 'a.b' })).toEqual({
      $and: [{ usernameNorm: { $gte: 'x' }, $or: [{ usernameNorm: { $gt: 'x' } }, { _id: { $gt: 'y' } }] }, { $or: [{ username: pattern }, { email: pattern }, { name: pattern }] }],
    });
  });

  test('every regex metacharacter is matched literally; % and _ are plain already', () => {
    const needle = '100%_off (a+b)*[x]$^.|?\\ {2} /-';
    const regex = new RegExp(literalRegex(needle), 'i');
    expect(regex.test(`Dave ${needle.toUpperCase()} x`)).toBe(true);
    expect(regex.source).toBe('100%_off \\(a\\+b\\)\\*\\[x\\]\\$\\^\\.\\|\\?\\\\ \\{2\\} \\/\\-');
    for (const pattern of ['.*', 'a+l', '^alice', '[a-z]', 'alice|bob', 'b.b']) expect(new RegExp(literalRegex(pattern), 'i').test('Alice Bob ab al')).toBe(false);
  });
});

describe('MongoDB indexes', () => {
  const defs = indexDefs();
  const find = (collection: string, name: string) => defs.find((d) => d.collection === collection && d.options.name === name);

  test('every oidc-provider model has a TTL index on expiresAt that deletes at the stored time', () => {
    for (const model of oidcModels) {
      expect(find(collectionFor(model), 'ttl')).toEqual({ collection: collectionFor(model), key: { expiresAt: 1 }, options: { name: 'ttl', expireAfterSeconds: 0 } });
    }
    expect(collectionFor('AccessToken')).toBe('oidc_access_token');
    expect(collectionFor('BackchannelAuthenticationRequest')).toBe('oidc_backchannel_authentication_request');
  });

  test('uid, userCode and grantId lookups are indexed', () => {
    expect(find('oidc_session', 'uid')?.key).toEqual({ uid: 1 });
    expect(find('oidc_device_code', 'userCode')?.key).toEqual({ userCode: 1 });
    for (const c of ['oidc_access_token', 'oidc_refresh_token', 'oidc_authorization_code', 'oidc_device_code']) {
      expect(find(c, 'grantId')?.options.partialFilterExpression).toEqual({ grantId: { $type: 'string' } });
    }
  });

  test('lookups on a partial index contain its filter expression (else MongoDB will not use the index)', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [liveByField('uid', 'u1', now), 'oidc_session', 'uid'],
      [liveByField('userCode', 'ABCD', now), 'oidc_device_code', 'userCode'],
      [byGrant('g1'), 'oidc_access_token', 'grantId'],
    ];
    for (const [query, collection, name] of cases) {
      const filter = find(collection, name)?.options.partialFilterExpression as Record<string, object> | undefined;
      expect(filter).toBeDefined();
      for (const [field, condition] of Object.entries(filter!)) expect(query[field]).toMatchObject(condition);
    }
    expect(byGrant('g1')).toEqual({ grantId: { $eq: 'g1', $type: 'string' } });
  });

  test('accounts are unique on every normalised login name; keys have one active key per slot', () => {
    expect(find('accounts', 'loginKeys')).toMatchObject({ key: { loginKeys: 1 }, options: { unique: true } });
    expect(find('keys', 'oneActivePerSlot')).toMatchObject({
      key: { kind: 1, slot: 1 },
      options: { unique: true, partialFilterExpression: { active: true } },
    });
    expect(find('counters', 'ttl')).toMatchObject({ key: { expiresAt: 1 }, options: { expireAfterSeconds: 0 } });
    // sessions and grants are found by account (a password change ends them all)
    expect(find('oidc_session', 'accountId')).toMatchObject({ key: { accountId: 1 }, options: { partialFilterExpression: { accountId: { $type: 'string' } } } });
    expect(find('oidc_grant', 'accountId')).toMatchObject({ key: { accountId: 1 } });
  });

  test('index names are unique per collection', () => {
    const names = defs.map((d) => `${d.collection}/${String(d.options.name)}`);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('MongoDB start-up failures', () => {
  test('connection strings are described without credentials', () => {
    expect(describeHosts('mongodb://user:secret@db1:27017,db2:27017/idport?replicaSet=rs0')).toBe('db1:27017,db2:27017');
    expect(describeHosts('mongodb+srv://u:p@cluster0.example.net/idport')).toBe('cluster0.example.net');
  });

  test('an unreachable server fails within the configured time with one line naming the host', async () => {
    const started = Date.now();
    const err = await openMongoStore({ url: 'mongodb://user:pw@127.0.0.1:1/idport', serverSelectionTimeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConnectError);
    expect((err as Error).message).toMatch(/^cannot use MongoDB at 127\.0\.0\.1:1: /);
    expect((err as Error).message).not.toContain('pw');
    expect((err as Error).message).not.toContain('\n');
    expect(Date.now() - started).toBeLessThan(8000);
  });

  test('a malformed connection string is refused clearly', async () => {
    const err = await openMongoStore({ url: 'mongodb://', serverSelectionTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConnectError);
  });
});
