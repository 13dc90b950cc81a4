import { normalizeLogin } from '../../src/storage/normalize.js';
import { DuplicateError, type AccountRecord, type KeyRecord, type Store } from '../../src/storage/types.js';

/** A clock the tests move by hand. */
export class TestClock {
  constructor(public ms = Date.UTC(2030, 0, 1)) {}
  readonly now = () => this.ms;
  advance(seconds: number) {
    this.ms += seconds * 1000;
  }
}

export type OpenStore = (clock: TestClock) => Promise<Store>;

const key = (kid: string, kind: KeyRecord['kind'], at: number): KeyRecord => ({
  kid,
  kind,
  material: { kid, secret: `${kid}-material` },
  createdAt: at,
  retiredAt: null,
  expiresAt: null,
});

const account = (n: string) => ({
  id: `sub-${n}`,
  username: n,
  email: `${n}@Example.com`,
  emailVerified: false,
  name: `User ${n}`,
  passwordHash: '$argon2id$fake',
  claims: { locale: 'en' },
});

/**
 * The storage contract, written once and run against every adapter. Each test opens its own
 * store: nothing is shared between tests.
 */
export function runStoreContract(adapterName: string, open: OpenStore) {
  describe(`storage contract: ${adapterName}`, () => {
    let clock: TestClock;
    let store: Store;
    beforeEach(async () => {
      clock = new TestClock();
      store = await open(clock);
    });
    afterEach(() => store.close());

    describe('oidc-provider models', () => {
      test('upsert then find returns the payload; unknown ids give undefined', async () => {
        const m = store.model('AccessToken');
        await m.upsert('at1', { jti: 'at1', grantId: 'g1', scope: 'openid' }, 60);
        expect(await m.find('at1')).toEqual({ jti: 'at1', grantId: 'g1', scope: 'openid' });
        expect(await m.find('nope')).toBeUndefined();
        expect(await store.model('RefreshToken').find('at1')).toBeUndefined();
      });

      test('many lookups at once each get their own answer; a lookup after an awaited write sees it', async () => {
        const models = ['AccessToken', 'ClientCredentials', 'RefreshToken'] as const;
        await Promise.all(
          Array.from({ length: 30 }, (_, i) => store.model(models[i % 3]!).upsert(`t${i}`, { jti: `t${i}`, uid: `u${i}`, n: i }, 60)),
        );
        // Same id in three models at once (what introspection does), plus misses and other lookups.
        const found = await Promise.all(
          Array.from({ length: 30 }, (_, i) => [
            store.model('AccessToken').find(`t${i}`),
            store.model('ClientCredentials').find(`t${i}`),
            store.model('RefreshToken').find(`t${i}`),
            store.model(models[i % 3]!).findByUid(`u${i}`),
          ]).flat(),
        );
        for (let i = 0; i < 30; i += 1) {
          const own = { jti: `t${i}`, uid: `u${i}`, n: i };
          expect(found.slice(i * 4, i * 4 + 3)).toEqual(models.map((m) => (m === models[i % 3] ? own : undefined)));
          expect(found[i * 4 + 3]).toEqual(own);
        }
        const m = store.model('Session');
        for (let i = 0; i < 5; i += 1) {
          await m.upsert('s', { jti: 's', v: i }, 60);
          expect(await m.find('s')).toEqual({ jti: 's', v: i });
        }
      });

      test('lookups at once of one record, a consumed one, an expired one and a missing one: each answer as if asked alone, and each caller its own copy', async () => {
        const codes = store.model('AuthorizationCode');
        await codes.upsert('live', { jti: 'live', nested: { a: 1 } }, 60);
        await codes.upsert('used', { jti: 'used' }, 60);
        await codes.upsert('old', { jti: 'old' }, 5);
        await store.model('Grant').upsert('live', { jti: 'live', model: 'Grant' }, 60);
        clock.advance(6);
        expect(await codes.consume('used')).toBe(true);
        const consumed = Math.floor(clock.now() / 1000);
        const [a, b, used, old, missing, grant, c] = await Promise.all([
          codes.find('live'),
          codes.find('live'),
          codes.find('used'),
          codes.find('old'),
          codes.find('missing'),
          store.model('Grant').find('live'),
          codes.find('live'),
        ]);
        expect([a, b, c]).toEqual([{ jti: 'live', nested: { a: 1 } }, { jti: 'live', nested: { a: 1 } }, { jti: 'live', nested: { a: 1 } }]);
        expect(used).toEqual({ jti: 'used', consumed });
        expect(old).toBeUndefined();
        expect(missing).toBeUndefined();
        expect(grant).toEqual({ jti: 'live', model: 'Grant' });
        // one caller changing what it found changes nobody else's answer
        (a!.nested as Record<string, unknown>).a = 2;
        a!.extra = true;
        expect(b).toEqual({ jti: 'live', nested: { a: 1 } });
        expect(c).toEqual({ jti: 'live', nested: { a: 1 } });
        expect(await codes.find('live')).toEqual({ jti: 'live', nested: { a: 1 } });
      });

      test('upsert replaces an existing record', async () => {
        const m = store.model('Session');
        await m.upsert('s1', { jti: 's1', uid: 'u1', v: 1 }, 60);
        await m.upsert('s1', { jti: 's1', uid: 'u2', v: 2 }, 60);
        expect(await m.find('s1')).toEqual({ jti: 's1', uid: 'u2', v: 2 });
        expect(await m.findByUid('u1')).toBeUndefined();
        expect(await m.findByUid('u2')).toMatchObject({ v: 2 });
      });

      test('find never returns expired records, even before a sweep', async () => {
        const m = store.model('AuthorizationCode');
        await m.upsert('c1', { jti: 'c1' }, 10);
        await m.upsert('forever', { jti: 'forever' });
        clock.advance(9);
        expect(await m.find('c1')).toBeDefined();
        clock.advance(1);
        expect(await m.find('c1')).toBeUndefined();
        expect(await m.find('forever')).toBeDefined();
      });

      test('findByUid and findByUserCode respect model and expiry', async () => {
        await store.model('Session').upsert('s1', { jti: 's1', uid: 'uid-1' }, 5);
        await store.model('DeviceCode').upsert('d1', { jti: 'd1', userCode: 'ABCD-EFGH' }, 5);
        expect(await store.model('Session').findByUid('uid-1')).toMatchObject({ jti: 's1' });
        expect(await store.model('Interaction').findByUid('uid-1')).toBeUndefined();
        expect(await store.model('DeviceCode').findByUserCode('ABCD-EFGH')).toMatchObject({ jti: 'd1' });
        clock.advance(6);
        expect(await store.model('Session').findByUid('uid-1')).toBeUndefined();
        expect(await store.model('DeviceCode').findByUserCode('ABCD-EFGH')).toBeUndefined();
      });

      test('consume marks the record consumed and succeeds once', async () => {
        const m = store.model('AuthorizationCode');
        await m.upsert('c1', { jti: 'c1', grantId: 'g1', scope: 'openid' }, 60);
        clock.advance(1.5);
        expect(await m.consume('c1')).toBe(true);
        // `consumed` is whole seconds (oidc-provider's epoch time), the rest of the payload kept
        expect(await m.find('c1')).toEqual({ jti: 'c1', grantId: 'g1', scope: 'openid', consumed: Math.floor(clock.now() / 1000) });
        expect(await m.consume('c1')).toBe(false);
        expect(await m.consume('missing')).toBe(false);
      });

      test('consume is atomic: of many parallel calls exactly one wins', async () => {
        const m = store.model('AuthorizationCode');
        await m.upsert('c1', { jti: 'c1' }, 60);
        const results = await Promise.all(Array.from({ length: 20 }, () => m.consume('c1')));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      test('an expired record cannot be consumed', async () => {
        const m = store.model('AuthorizationCode');
        await m.upsert('c1', { jti: 'c1' }, 1);
        clock.advance(2);
        expect(await m.consume('c1')).toBe(false);
      });

      test('destroy removes one record', async () => {
        const m = store.model('AccessToken');
        await m.upsert('a', { jti: 'a' }, 60);
        await m.upsert('b', { jti: 'b' }, 60);
        await m.destroy('a');
        await m.destroy('never-existed');
        expect(await m.find('a')).toBeUndefined();
        expect(await m.find('b')).toBeDefined();
      });

      test('revokeByGrantId removes every artifact of the grant, across models, and the grant', async () => {
        await store.model('Grant').upsert('g1', { jti: 'g1', accountId: 'x' }, 60);
        await store.model('AccessToken').upsert('at', { jti: 'at', grantId: 'g1' }, 60);
        await store.model('RefreshToken').upsert('rt', { jti: 'rt', grantId: 'g1' }, 60);
        await store.model('AuthorizationCode').upsert('code', { jti: 'code', grantId: 'g1' }, 60);
        await store.model('AccessToken').upsert('other', { jti: 'other', grantId: 'g2' }, 60);
        // a grant derived from g1 (token exchange) names it as its grantId
        await store.model('Grant').upsert('derived', { jti: 'derived', accountId: 'x', grantId: 'g1' }, 60);
        await store.model('Grant').upsert('unrelated', { jti: 'unrelated', accountId: 'x' }, 60);
        await store.model('AccessToken').revokeByGrantId('g1');
        expect(await store.model('Grant').find('g1')).toBeUndefined();
        expect(await store.model('Grant').find('derived')).toBeUndefined();
        expect(await store.model('Grant').find('unrelated')).toBeDefined();
        expect(await store.model('AccessToken').find('at')).toBeUndefined();
        expect(await store.model('RefreshToken').find('rt')).toBeUndefined();
        expect(await store.model('AuthorizationCode').find('code')).toBeUndefined();
        expect(await store.model('AccessToken').find('other')).toBeDefined();
      });

      test('findBound: the token as find answers it, its live grant, and its live session only when it expires with it', async () => {
        await store.model('Grant').upsert('g1', { jti: 'g1', accountId: 'a', clientId: 'c' }, 60);
        await store.model('Session').upsert('s1', { jti: 's1', uid: 'u1', accountId: 'a' }, 60);
        await store.model('Session').upsert('s2', { jti: 's2', uid: 'u2', accountId: 'b' }, 60);
        const bound = { jti: 'at1', grantId: 'g1', sessionUid: 'u1', expiresWithSession: true };
        await store.model('AccessToken').upsert('at1', bound, 60);
        // bound to a session by uid, never by a session's id, nor by another model's uid
        await store.model('Interaction').upsert('u9', { jti: 'u9', uid: 'u9' }, 60);
        await store.model('AccessToken').upsert('at-id', { jti: 'at-id', sessionUid: 's1', expiresWithSession: true }, 60);
        await store.model('AccessToken').upsert('at-other-model', { jti: 'at-other-model', sessionUid: 'u9', expiresWithSession: true }, 60);
        // offline tokens outlive their session: their session is not looked up
        await store.model('RefreshToken').upsert('rt1', { jti: 'rt1', grantId: 'g1', sessionUid: 'u1', expiresWithSession: false }, 60);
        await store.model('AccessToken').upsert('at-truthy', { jti: 'at-truthy', sessionUid: 'u1', expiresWithSession: 'yes' }, 60);
        await store.model('AccessToken').upsert('at-gone', { jti: 'at-gone', grantId: 'g-missing', sessionUid: 'u-missing', expiresWithSession: true }, 60);
        await store.model('AccessToken').upsert('at-bare', { jti: 'at-bare' }, 60);

        const grant = { jti: 'g1', accountId: 'a', clientId: 'c' };
        const session = { jti: 's1', uid: 'u1', accountId: 'a' };
        expect(await store.model('AccessToken').findBound('at1')).toEqual({ token: bound, grant, session });
        expect(await store.model('AccessToken').findBound('at-id')).toEqual({ token: { jti: 'at-id', sessionUid: 's1', expiresWithSession: true }, grant: undefined, session: undefined });
        expect((await store.model('AccessToken').findBound('at-other-model'))?.session).toBeUndefined();
        expect(await store.model('RefreshToken').findBound('rt1')).toEqual({ token: { jti: 'rt1', grantId: 'g1', sessionUid: 'u1', expiresWithSession: false }, grant, session: undefined });
        expect((await store.model('AccessToken').findBound('at-truthy'))?.session).toBeUndefined();
        expect(await store.model('AccessToken').findBound('at-gone')).toEqual({ token: { jti: 'at-gone', grantId: 'g-missing', sessionUid: 'u-missing', expiresWithSession: true }, grant: undefined, session: undefined });
        expect(await store.model('AccessToken').findBound('at-bare')).toEqual({ token: { jti: 'at-bare' }, grant: undefined, session: undefined });
        // the token is found in its own model only; missing, over-long and expired tokens are not found
        expect(await store.model('RefreshToken').findBound('at1')).toBeUndefined();
        expect(await store.model('AccessToken').findBound('missing')).toBeUndefined();
        expect(await store.model('AccessToken').findBound('x'.repeat(2_000))).toBeUndefined();

        // a consumed token comes back marked, as find marks it
        clock.advance(1);
        expect(await store.model('RefreshToken').consume('rt1')).toBe(true);
        expect((await store.model('RefreshToken').findBound('rt1'))?.token).toEqual(await store.model('RefreshToken').find('rt1'));
        expect((await store.model('RefreshToken').findBound('rt1'))?.token.consumed).toBe(Math.floor(clock.now() / 1000));

        // each caller its own copy: changing one answer changes nothing stored
        const first = (await store.model('AccessToken').findBound('at1'))!;
        (first.grant as Record<string, unknown>).clientId = 'changed';
        (first.session as Record<string, unknown>).accountId = 'changed';
        first.token.grantId = 'changed';
        expect(await store.model('AccessToken').findBound('at1')).toEqual({ token: bound, grant, session });

        // what changes is read as changed: a re-saved grant, an ended session, a revoked grant
        await store.model('Grant').upsert('g1', { ...grant, clientId: 'c2' }, 60);
        expect((await store.model('AccessToken').findBound('at1'))?.grant).toEqual({ ...grant, clientId: 'c2' });
        await store.model('Session').destroy('s1');
        expect(await store.model('AccessToken').findBound('at1')).toEqual({ token: bound, grant: { ...grant, clientId: 'c2' }, session: undefined });
        await store.model('Session').upsert('s1', session, 60);
        await store.model('Grant').destroy('g1');
        expect(await store.model('AccessToken').findBound('at1')).toEqual({ token: bound, grant: undefined, session });
        await store.model('Grant').revokeByGrantId('g1');
        expect(await store.model('AccessToken').findBound('at1')).toBeUndefined();
      });

      test('findBound: a grant or session past its expiry is not found, nor a token past its own', async () => {
        await store.model('Grant').upsert('g1', { jti: 'g1' }, 10);
        await store.model('Session').upsert('s1', { jti: 's1', uid: 'u1' }, 20);
        const token = { jti: 'at1', grantId: 'g1', sessionUid: 'u1', expiresWithSession: true };
        await store.model('AccessToken').upsert('at1', token, 30);
        expect(await store.model('AccessToken').findBound('at1')).toEqual({ token, grant: { jti: 'g1' }, session: { jti: 's1', uid: 'u1' } });
        clock.advance(10);
        expect(await store.model('AccessToken').findBound('at1')).toEqual({ token, grant: undefined, session: { jti: 's1', uid: 'u1' } });
        clock.advance(10);
        expect(await store.model('AccessToken').findBound('at1')).toEqual({ token, grant: undefined, session: undefined });
        clock.advance(10);
        expect(await store.model('AccessToken').findBound('at1')).toBeUndefined();
      });

      test('findByAccount finds live sessions and grants of one account, with their ids', async () => {
        await store.model('Session').upsert('s1', { jti: 's1', accountId: 'acct1', uid: 'u1' }, 60);
        await store.model('Session').upsert('s2', { jti: 's2', accountId: 'acct2' }, 60);
        await store.model('Session').upsert('s3', { jti: 's3' }, 60);
        await store.model('Session').upsert('short', { jti: 'short', accountId: 'acct1' }, 5);
        await store.model('Grant').upsert('g1', { jti: 'g1', accountId: 'acct1', clientId: 'c1' }, 60);
        await store.model('AccessToken').upsert('at1', { jti: 'at1', accountId: 'acct1', grantId: 'g1' }, 60);
        clock.advance(6);
        expect(await store.model('Session').findByAccount('acct1')).toEqual([{ id: 's1', payload: { jti: 's1', accountId: 'acct1', uid: 'u1' } }]);
        expect(await store.model('Grant').findByAccount('acct1')).toEqual([{ id: 'g1', payload: { jti: 'g1', accountId: 'acct1', clientId: 'c1' } }]);
        // only Session and Grant records are found by account
        expect(await store.model('AccessToken').findByAccount('acct1')).toEqual([]);
        // a re-save that drops the account (a session after logout) is no longer found
        await store.model('Session').upsert('s1', { jti: 's1', uid: 'u1' }, 60);
        expect(await store.model('Session').findByAccount('acct1')).toEqual([]);
        expect(await store.model('Session').findByAccount('x'.repeat(2000))).toEqual([]);
      });

      test('sweep deletes expired records only', async () => {
        const m = store.model('AccessToken');
        await m.upsert('old', { jti: 'old' }, 1);
        await m.upsert('new', { jti: 'new' }, 100);
        clock.advance(5);
        // how many it deleted: an adapter whose database expires records itself (MongoDB's TTL
        // index) may delete none by hand; either way, expired records are never returned
        const swept = await store.sweep();
        expect(Number.isInteger(swept) && swept >= 0).toBe(true);
        expect(await m.find('old')).toBeUndefined();
        expect(await m.find('new')).toBeDefined();
      });

      test('a token or grant read before it changes is read as changed: re-saved, consumed, destroyed, revoked with its grant, expired', async () => {
        const seed: [string, string, Record<string, unknown>, number][] = [
          ['Grant', 'g1', { jti: 'g1', accountId: 'a', openid: { scope: 'openid' } }, 60],
          ['AccessToken', 'at1', { jti: 'at1', grantId: 'g1' }, 60],
          ['AccessToken', 'at2', { jti: 'at2', grantId: 'g2' }, 60],
          ['RefreshToken', 'rt1', { jti: 'rt1', grantId: 'g2' }, 60],
          ['ClientCredentials', 'cc1', { jti: 'cc1' }, 10],
        ];
        for (const [model, id, payload, ttl] of seed) await store.model(model).upsert(id, payload, ttl);
        // each read twice: a store that caches records has them cached now
        for (const [model, id, payload] of seed) {
          expect(await store.model(model).find(id)).toEqual(payload);
          expect(await store.model(model).find(id)).toEqual(payload);
        }
        await store.model('Grant').upsert('g1', { jti: 'g1', accountId: 'a', openid: { scope: 'openid email' } }, 60);
        expect(await store.model('Grant').find('g1')).toEqual({ jti: 'g1', accountId: 'a', openid: { scope: 'openid email' } });
        clock.advance(1);
        await store.model('RefreshToken').consume('rt1');
        expect(await store.model('RefreshToken').find('rt1')).toEqual({ jti: 'rt1', grantId: 'g2', consumed: Math.floor(clock.now() / 1000) });
        await store.model('AccessToken').destroy('at2');
        expect(await store.model('AccessToken').find('at2')).toBeUndefined();
        await store.model('Grant').revokeByGrantId('g1');
        expect(await store.model('AccessToken').find('at1')).toBeUndefined();
        expect(await store.model('Grant').find('g1')).toBeUndefined();
        expect(await store.model('ClientCredentials').find('cc1')).toEqual({ jti: 'cc1' });
        clock.advance(9);
        expect(await store.model('ClientCredentials').find('cc1')).toBeUndefined();
      });

      test('more tokens read than any cache holds: each is still found as stored, and a revoked one is not', async () => {
        const m = store.model('AccessToken');
        const ids = Array.from({ length: 1_200 }, (_, i) => `many-${i}`);
        await Promise.all(ids.map((id, i) => m.upsert(id, { jti: id, n: i }, 60)));
        for (const id of ids) await m.find(id);
        await m.destroy('many-1');
        const again = await Promise.all(ids.map((id) => m.find(id)));
        expect(again.map((p) => p?.n)).toEqual(ids.map((_, i) => (i === 1 ? undefined : i)));
      });

      test('payloads round-trip unicode and nested values', async () => {
        const payload = { jti: 'x', claims: { name: '김민준 🚀', nested: { a: [1, 'two', null] } } };
        await store.model('Grant').upsert('x', payload, 60);
        expect(await store.model('Grant').find('x')).toEqual(payload);
      });
    });

    describe('accounts', () => {
      test('create, find by id, by username or email case-insensitively', async () => {
        const created = await store.accounts.create(account('alice'));
        expect(created.createdAt).toBe(clock.ms);
        expect((await store.accounts.findById('sub-alice'))?.username).toBe('alice');
        expect((await store.accounts.findByLogin('ALICE'))?.id).toBe('sub-alice');
        expect((await store.accounts.findByLogin('alice@example.COM'))?.id).toBe('sub-alice');
        expect((await store.accounts.findById('sub-alice'))?.claims).toEqual({ locale: 'en' });
        expect(await store.accounts.findByLogin('bob')).toBeUndefined();
      });

      test('usernames and emails are unique case-insensitively', async () => {
        await store.accounts.create(account('alice'));
        await expect(store.accounts.create({ ...account('x'), id: 'sub-2', username: 'ALICE' })).rejects.toMatchObject({
          code: 'ERR_DUPLICATE',
          field: 'username',
        });
        await expect(
          store.accounts.create({ ...account('bob'), email: 'ALICE@example.com' }),
        ).rejects.toBeInstanceOf(DuplicateError);
        // a username may not be someone else's email either: a login must name one account
        await expect(store.accounts.create({ ...account('carol'), username: 'alice@example.com' })).rejects.toBeInstanceOf(
          DuplicateError,
        );
      });

      test('setEmail changes the email and its verified flag; someone else\'s username or email is refused; markEmailVerified only for the email it names', async () => {
        await store.accounts.create(account('alice'));
        await store.accounts.create(account('bob'));
        clock.advance(2);
        expect(await store.accounts.setEmail('sub-alice', 'Alice.New@Example.com', false)).toBe(true);
        expect(await store.accounts.findByLogin('alice.new@example.com')).toMatchObject({ id: 'sub-alice', email: 'Alice.New@Example.com', emailVerified: false, updatedAt: clock.ms });
        expect(await store.accounts.findByLogin('alice@example.com')).toBeUndefined();
        await expect(store.accounts.setEmail('sub-alice', 'BOB@example.com', true)).rejects.toMatchObject({ code: 'ERR_DUPLICATE', field: 'email' });
        await expect(store.accounts.setEmail('sub-alice', 'bob', true)).rejects.toMatchObject({ code: 'ERR_DUPLICATE', field: 'email' });
        expect(await store.accounts.markEmailVerified('sub-alice', 'alice@example.com')).toBe(false);
        expect((await store.accounts.findById('sub-alice'))?.emailVerified).toBe(false);
        expect(await store.accounts.markEmailVerified('sub-alice', 'alice.new@EXAMPLE.com')).toBe(true);
        expect((await store.accounts.findById('sub-alice'))?.emailVerified).toBe(true);
        // one's own username may be one's email
        expect(await store.accounts.setEmail('sub-alice', 'alice', false)).toBe(true);
        expect(await store.accounts.setEmail('sub-alice', null, false)).toBe(true);
        expect(await store.accounts.findById('sub-alice')).toMatchObject({ email: null, emailVerified: false });
        expect(await store.accounts.setEmail('nobody', 'x@example.com', false)).toBe(false);
      });

      test('setProfile replaces the name and the further claims, each only when given', async () => {
        await store.accounts.create({ ...account('alice'), name: 'Alice', claims: { given_name: 'Alice' } });
        clock.advance(2);
        expect(await store.accounts.setProfile('sub-alice', { name: 'Alice Liddell' })).toBe(true);
        expect(await store.accounts.findById('sub-alice')).toMatchObject({ name: 'Alice Liddell', claims: { given_name: 'Alice' }, updatedAt: clock.ms });
        expect(await store.accounts.setProfile('sub-alice', { claims: { family_name: 'Liddell' } })).toBe(true);
        expect(await store.accounts.findById('sub-alice')).toMatchObject({ name: 'Alice Liddell', claims: { family_name: 'Liddell' } });
        expect((await store.accounts.findById('sub-alice'))?.claims).not.toHaveProperty('given_name');
        expect(await store.accounts.setProfile('sub-alice', { name: null })).toBe(true);
        expect(await store.accounts.findByLogin('alice')).toMatchObject({ name: null, claims: { family_name: 'Liddell' } });
        expect(await store.accounts.setProfile('nobody', { name: 'x' })).toBe(false);
      });

      test('accounts without email are allowed, several of them', async () => {
        await store.accounts.create({ ...account('a'), email: null });
        await store.accounts.create({ ...account('b'), email: null });
        expect(await store.accounts.list()).toHaveLength(2);
      });

      test('list, set password, remove', async () => {
        await store.accounts.create(account('bob'));
        await store.accounts.create(account('alice'));
        expect((await store.accounts.list()).map((a) => a.username)).toEqual(['alice', 'bob']);
        clock.advance(10);
        expect((await store.accounts.findById('sub-bob'))?.passwordHash).toBe('$argon2id$fake');
        expect(await store.accounts.setPasswordHash('sub-bob', 'new-hash')).toBe(true);
        const bob = await store.accounts.findById('sub-bob');
        expect(bob?.passwordHash).toBe('new-hash');
        expect(bob?.updatedAt).toBe(clock.ms);
        expect(await store.accounts.setPasswordHash('nobody', 'x')).toBe(false);
        expect(await store.accounts.remove('sub-bob')).toBe(true);
        expect(await store.accounts.remove('sub-bob')).toBe(false);
        expect(await store.accounts.findByLogin('bob')).toBeUndefined();
        expect(await store.accounts.findById('sub-bob')).toBeUndefined();
      });
    });

    describe('pages of accounts', () => {
      // usernames whose raw order differs from their normalised order (case, NFKC's fullwidth ｅ)
      const people = [
        { ...account('x'), id: 'sub-carol', username: 'Carol', email: null, name: 'Carol Danvers' },
        { ...account('x'), id: 'sub-bob', username: 'Bob', email: 'BOB@Builders.example', name: null },
        { ...account('x'), id: 'sub-eve', username: 'ｅve', email: 'eve@example.com', name: 'Eve Polastri' },
        { ...account('x'), id: 'sub-alice', username: 'alice', email: 'alice@wonder.land', name: 'Alice Liddell' },
        { ...account('x'), id: 'sub-dave', username: 'dave', email: 'dave@example.com', name: 'Dave 100%_off (a+b)*[x]$^.|?\\ {2}' },
      ];
      const order = ['alice', 'Bob', 'Carol', 'dave', 'ｅve'];
      const names = (page: AccountRecord[]) => page.map((a) => a.username);
      const keyOf = (a: AccountRecord) => ({ usernameNorm: normalizeLogin(a.username), id: a.id });
      beforeEach(async () => {
        for (const p of people) await store.accounts.create(p);
      });

      test('ordered by normalised username (by code point) then id; at most limit; after a key; empty past the end', async () => {
        expect(names(await store.accounts.page({ limit: 10 }))).toEqual(order);
        expect(names(await store.accounts.page({ limit: 2 }))).toEqual(['alice', 'Bob']);
        // walking page by page from each page's last key gives every account once, in order
        const seen: string[] = [];
        let after: { usernameNorm: string; id: string } | undefined;
        for (let i = 0; i < 5; i += 1) {
          const page = await store.accounts.page({ after, limit: 2 });
          if (page.length === 0) break;
          seen.push(...names(page));
          after = keyOf(page[page.length - 1]!);
        }
        expect(seen).toEqual(order);
        expect(await store.accounts.page({ after, limit: 2 })).toEqual([]);
        expect(await store.accounts.page({ after: { usernameNorm: '\u{10ffff}', id: '' }, limit: 10 })).toEqual([]);
        // the key need not be an account's; the id orders within one normalised username
        expect(names(await store.accounts.page({ after: { usernameNorm: 'b', id: 'zzz' }, limit: 10 }))).toEqual(['Bob', 'Carol', 'dave', 'ｅve']);
        expect(names(await store.accounts.page({ after: { usernameNorm: 'bob', id: 'sub-a' }, limit: 1 }))).toEqual(['Bob']);
        expect(names(await store.accounts.page({ after: { usernameNorm: 'bob', id: 'sub-bob' }, limit: 1 }))).toEqual(['Carol']);
        expect(names(await store.accounts.page({ after: { usernameNorm: 'bob', id: 'sub-c' }, limit: 1 }))).toEqual(['Carol']);
        // records are whole
        expect((await store.accounts.page({ limit: 1 }))[0]).toEqual(await store.accounts.findById('sub-alice'));
      });

      test('contains: username, email or name, any case (ASCII), combined with after and limit', async () => {
        expect(names(await store.accounts.page({ limit: 10, contains: 'cAR' }))).toEqual(['Carol']);
        expect(names(await store.accounts.page({ limit: 10, contains: 'bob@builders' }))).toEqual(['Bob']);
        expect(names(await store.accounts.page({ limit: 10, contains: 'LIDDELL' }))).toEqual(['alice']);
        expect(names(await store.accounts.page({ limit: 10, contains: 'ｅv' }))).toEqual(['ｅve']);
        expect(names(await store.accounts.page({ limit: 10, contains: 'example' }))).toEqual(['Bob', 'dave', 'ｅve']);
        expect(names(await store.accounts.page({ limit: 1, contains: 'example' }))).toEqual(['Bob']);
        expect(names(await store.accounts.page({ after: { usernameNorm: 'bob', id: 'sub-bob' }, limit: 1, contains: 'EXAMPLE' }))).toEqual(['dave']);
        expect(await store.accounts.page({ after: { usernameNorm: 'eve', id: 'sub-eve' }, limit: 10, contains: 'e' })).toEqual([]);
        expect(await store.accounts.page({ limit: 10, contains: 'nobody' })).toEqual([]);
      });

      test('contains matches %, _, \\ and regular-expression characters literally', async () => {
        for (const needle of ['%', '_', '100%_OFF', '(A+B)*[X]$^.|?\\', '\\', '{2}', '$^', '|']) {
          expect({ needle, found: names(await store.accounts.page({ limit: 10, contains: needle })) }).toEqual({ needle, found: ['dave'] });
        }
        // each of these matches others as a pattern (LIKE's _ and %, a regex's . * + ^), none literally
        for (const needle of ['e_e', 'a%e', '.*', 'a+l', '^alice', 'b.b', '[a-z]', 'alice|bob', 'a\0']) {
          expect({ needle, found: await store.accounts.page({ limit: 10, contains: needle }) }).toEqual({ needle, found: [] });
        }
      });
    });

    describe('clients', () => {
      test('upsert, find, list, remove', async () => {
        await store.clients.upsert({ client_id: 'c1', client_name: 'One', redirect_uris: ['https://a/cb'] });
        await store.clients.upsert({ client_id: 'c2', client_name: 'Two' });
        expect(await store.clients.find('c1')).toEqual({ client_id: 'c1', client_name: 'One', redirect_uris: ['https://a/cb'] });
        await store.clients.upsert({ client_id: 'c1', client_name: 'One again', redirect_uris: [] });
        expect(await store.clients.find('c1')).toEqual({ client_id: 'c1', client_name: 'One again', redirect_uris: [] });
        expect(await store.clients.find('nope')).toBeUndefined();
        expect((await store.clients.list()).map((c) => c.client_id).sort()).toEqual(['c1', 'c2']);
        expect(await store.clients.remove('c1')).toBe(true);
        expect(await store.clients.remove('c1')).toBe(false);
        expect(await store.clients.find('c1')).toBeUndefined();
      });
    });

    describe('apis', () => {
      test('upsert, find, list, remove', async () => {
        const api = { audience: 'https://api.example.com', name: 'Things', scopes: ['read:things', 'write:things'], tokenFormat: 'jwt' as const, accessTokenTtl: 900 };
        await store.apis.upsert(api);
        expect(await store.apis.find(api.audience)).toMatchObject({ ...api, createdAt: clock.ms, updatedAt: clock.ms });
        clock.advance(5);
        await store.apis.upsert({ ...api, scopes: ['read:things'], tokenFormat: 'opaque', accessTokenTtl: null });
        expect(await store.apis.find(api.audience)).toMatchObject({ scopes: ['read:things'], tokenFormat: 'opaque', accessTokenTtl: null, updatedAt: clock.ms });
        await store.apis.upsert({ audience: 'urn:other', name: null, scopes: [], tokenFormat: 'opaque', accessTokenTtl: null });
        expect((await store.apis.list()).map((a) => a.audience)).toEqual(['https://api.example.com', 'urn:other']);
        expect(await store.apis.find('urn:none')).toBeUndefined();
        expect(await store.apis.find('urn:other')).toMatchObject({ audience: 'urn:other' });
        expect(await store.apis.remove('urn:other')).toBe(true);
        expect(await store.apis.remove('urn:other')).toBe(false);
        expect(await store.apis.find('urn:other')).toBeUndefined();
      });
    });

    describe('consents', () => {
      const agreed = (accountId: string, clientId: string, scope: string) => ({
        accountId,
        clientId,
        scope,
        claims: ['given_name'],
        resources: { 'https://api.example.com': 'read:things write:things' },
      });

      test('remember per account and client (what was agreed, replaced as a whole), list newest first, forget', async () => {
        await store.consents.remember(agreed('acct1', 'c1', 'openid'));
        clock.advance(1);
        await store.consents.remember(agreed('acct1', 'c2', 'openid email'));
        await store.consents.remember(agreed('acct2', 'c1', 'openid'));
        clock.advance(1);
        await store.consents.remember({ ...agreed('acct1', 'c1', 'openid profile'), claims: [], resources: {} });
        expect(await store.consents.find('acct1', 'c1')).toEqual({
          accountId: 'acct1',
          clientId: 'c1',
          scope: 'openid profile',
          claims: [],
          resources: {},
          updatedAt: clock.ms,
        });
        expect(await store.consents.find('acct1', 'c2')).toEqual({ ...agreed('acct1', 'c2', 'openid email'), updatedAt: clock.ms - 1000 });
        expect((await store.consents.listByAccount('acct1')).map((c) => c.clientId)).toEqual(['c1', 'c2']);
        expect(await store.consents.forget('acct1', 'c1')).toBe(true);
        expect(await store.consents.forget('acct1', 'c1')).toBe(false);
        expect(await store.consents.find('acct1', 'c1')).toBeUndefined();
        expect(await store.consents.find('acct2', 'c1')).toMatchObject({ scope: 'openid' });
      });

      test('forgetAccount forgets every consent of one account only', async () => {
        await store.consents.remember(agreed('acct1', 'c1', 'openid'));
        await store.consents.remember(agreed('acct1', 'c2', 'openid'));
        await store.consents.remember(agreed('acct2', 'c1', 'openid'));
        expect(await store.consents.forgetAccount('acct1')).toBe(2);
        expect(await store.consents.listByAccount('acct1')).toEqual([]);
        expect(await store.consents.listByAccount('acct2')).toHaveLength(1);
      });
    });

    describe('counters', () => {
      const increment = (key: string, ttlSeconds = 60) =>
        store.counters.update(key, (current, now) => ({
          state: { n: (current?.state.n ?? 0) + 1 },
          expiresAt: current?.expiresAt ?? now + ttlSeconds * 1000,
        }));

      test('update creates, changes and deletes a record; get reads it; the clock is the store\'s', async () => {
        let seen: unknown = 'not called';
        await store.counters.update('k', (current, now) => {
          seen = [current, now];
          return { state: { n: 1, until: 5 }, expiresAt: now + 10_000 };
        });
        expect(seen).toEqual([undefined, clock.ms]);
        expect(await store.counters.get('k')).toEqual({ state: { n: 1, until: 5 }, expiresAt: clock.ms + 10_000 });
        expect(await increment('k')).toEqual({ state: { n: 2 }, expiresAt: clock.ms + 10_000 });
        expect(await store.counters.update('k', () => undefined)).toBeUndefined();
        expect(await store.counters.get('k')).toBeUndefined();
        await increment('k');
        await store.counters.delete('k');
        await store.counters.delete('never-there');
        expect(await store.counters.get('k')).toBeUndefined();
      });

      test('an expired record is never returned, not even to update', async () => {
        await increment('k', 10);
        clock.advance(9);
        expect((await store.counters.get('k'))?.state).toEqual({ n: 1 });
        clock.advance(1);
        expect(await store.counters.get('k')).toBeUndefined();
        expect((await increment('k', 10))?.state).toEqual({ n: 1 });
      });

      test('update is atomic: parallel increments of one key all count', async () => {
        await Promise.all(Array.from({ length: 40 }, () => increment('hot')));
        expect((await store.counters.get('hot'))?.state).toEqual({ n: 40 });
      });

      test('sweep keeps live counters', async () => {
        await increment('old', 1);
        await increment('new', 100);
        clock.advance(5);
        await store.sweep();
        expect(await store.counters.get('new')).toBeDefined();
        expect(await store.counters.get('old')).toBeUndefined();
      });

      test('keys over 1,024 characters are refused by update and simply not found by get', async () => {
        const long = 'k'.repeat(1025);
        await expect(increment(long)).rejects.toThrow(TypeError);
        expect(await store.counters.get(long)).toBeUndefined();
        await expect(store.counters.delete(long)).resolves.toBeUndefined();
      });
    });

    describe('registration tokens', () => {
      const mint = (id: string, maxUses: number | null, ttlSeconds = 60) =>
        store.registrationTokens.create({ id, hash: `hash-${id}`, maxUses, expiresAt: clock.ms + ttlSeconds * 1000 });

      test('create, list (oldest first), use counts, revoke', async () => {
        await mint('t1', 2);
        clock.advance(1);
        await mint('t2', null);
        expect(await store.registrationTokens.list()).toEqual([
          { id: 't1', hash: 'hash-t1', maxUses: 2, used: 0, createdAt: clock.ms - 1000, expiresAt: clock.ms + 59_000 },
          { id: 't2', hash: 'hash-t2', maxUses: null, used: 0, createdAt: clock.ms, expiresAt: clock.ms + 60_000 },
        ]);
        expect(await store.registrationTokens.use('hash-t1')).toMatchObject({ id: 't1', used: 1 });
        expect(await store.registrationTokens.use('hash-t1')).toMatchObject({ id: 't1', used: 2 });
        expect(await store.registrationTokens.use('hash-t1')).toBeUndefined();
        // unlimited: any number of uses until it expires
        for (let i = 1; i <= 5; i += 1) expect(await store.registrationTokens.use('hash-t2')).toMatchObject({ used: i });
        expect(await store.registrationTokens.use('hash-unknown')).toBeUndefined();
        expect(await store.registrationTokens.revoke('t2')).toBe(true);
        expect(await store.registrationTokens.revoke('t2')).toBe(false);
        expect(await store.registrationTokens.use('hash-t2')).toBeUndefined();
        expect((await store.registrationTokens.list()).map((t) => t.id)).toEqual(['t1']);
      });

      test('an id or a hash is stored once', async () => {
        await mint('t1', 1);
        await expect(store.registrationTokens.create({ id: 't1', hash: 'other', maxUses: 1, expiresAt: clock.ms + 1000 })).rejects.toMatchObject({ code: 'ERR_DUPLICATE', field: 'id' });
        await expect(store.registrationTokens.create({ id: 't9', hash: 'hash-t1', maxUses: 1, expiresAt: clock.ms + 1000 })).rejects.toMatchObject({ code: 'ERR_DUPLICATE', field: 'hash' });
      });

      test('an expired token is neither listed nor usable, and sweep removes it', async () => {
        await mint('old', null, 10);
        clock.advance(9);
        expect(await store.registrationTokens.use('hash-old')).toMatchObject({ used: 1 });
        clock.advance(1);
        expect(await store.registrationTokens.use('hash-old')).toBeUndefined();
        expect(await store.registrationTokens.list()).toEqual([]);
        await store.sweep();
        expect(await store.registrationTokens.revoke('old')).toBe(false);
      });

      test('use is atomic: of parallel uses of a 3-use token exactly 3 win; a use given back can be taken again', async () => {
        await mint('hot', 3);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.registrationTokens.use('hash-hot')));
        expect(results.filter(Boolean)).toHaveLength(3);
        expect(results.filter(Boolean).map((r) => r!.used).sort()).toEqual([1, 2, 3]);
        await store.registrationTokens.giveBack('hot');
        expect(await store.registrationTokens.use('hash-hot')).toMatchObject({ used: 3 });
        expect(await store.registrationTokens.use('hash-hot')).toBeUndefined();
        // giving back never goes below zero, and a token that is gone is no error
        await mint('fresh', 1);
        await store.registrationTokens.giveBack('fresh');
        expect(await store.registrationTokens.list()).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'fresh', used: 0 })]));
        await store.registrationTokens.giveBack('never-there');
      });

      test('lookups by values no store holds find nothing', async () => {
        expect(await store.registrationTokens.use('h'.repeat(1025))).toBeUndefined();
        expect(await store.registrationTokens.revoke('i'.repeat(1025))).toBe(false);
        await expect(store.registrationTokens.giveBack('i'.repeat(1025))).resolves.toBeUndefined();
      });
    });

    describe('factors', () => {
      const passkey = (id: string, accountId: string) => ({
        id,
        accountId,
        publicKey: `pk-${id}`,
        counter: 0,
        transports: ['internal', 'hybrid'],
        deviceType: 'multiDevice' as const,
        backedUp: true,
        aaguid: '00000000-0000-0000-0000-000000000000',
        name: `Key ${id}`,
      });

      test('passkeys: add, find, list oldest first, rename, remove; a credential id registers once, to anyone', async () => {
        await store.factors.addPasskey(passkey('p1', 'acct1'));
        clock.advance(1);
        await store.factors.addPasskey(passkey('p2', 'acct1'));
        await store.factors.addPasskey(passkey('p3', 'acct2'));
        await expect(store.factors.addPasskey(passkey('p1', 'acct2'))).rejects.toMatchObject({ code: 'ERR_DUPLICATE', field: 'passkey' });
        expect(await store.factors.findPasskey('p1')).toEqual({ ...passkey('p1', 'acct1'), createdAt: clock.ms - 1000, lastUsedAt: null });
        expect((await store.factors.listPasskeys('acct1')).map((p) => p.id)).toEqual(['p1', 'p2']);
        expect(await store.factors.renamePasskey('acct1', 'p2', 'Laptop')).toBe(true);
        expect(await store.factors.renamePasskey('acct2', 'p2', 'Not mine')).toBe(false);
        expect((await store.factors.findPasskey('p2'))?.name).toBe('Laptop');
        expect(await store.factors.removePasskey('acct2', 'p1')).toBe(false);
        expect(await store.factors.removePasskey('acct1', 'p1')).toBe(true);
        expect(await store.factors.findPasskey('p1')).toBeUndefined();
        expect(await store.factors.findPasskey('x'.repeat(2000))).toBeUndefined();
      });

      test('usePasskey: only a counter that moved forward (or an authenticator without one) is accepted, atomically', async () => {
        await store.factors.addPasskey({ ...passkey('c', 'acct1'), counter: 5 });
        await store.factors.addPasskey(passkey('zero', 'acct1'));
        clock.advance(3);
        expect(await store.factors.usePasskey('c', 5)).toBe(false);
        expect(await store.factors.usePasskey('c', 4)).toBe(false);
        const raced = await Promise.all([store.factors.usePasskey('c', 9), store.factors.usePasskey('c', 9), store.factors.usePasskey('c', 9)]);
        expect(raced.filter(Boolean)).toHaveLength(1);
        expect(await store.factors.findPasskey('c')).toMatchObject({ counter: 9, lastUsedAt: clock.ms });
        expect(await store.factors.usePasskey('zero', 0)).toBe(true);
        expect(await store.factors.usePasskey('zero', 0)).toBe(true);
        expect(await store.factors.usePasskey('missing', 3)).toBe(false);
      });

      test('TOTP secrets: set replaces, get, remove', async () => {
        await store.factors.setTotp('acct1', { secret: 'JBSWY3DPEHPK3PXP' });
        await store.factors.setTotp('acct1', { jwe: 'sealed' });
        expect(await store.factors.getTotp('acct1')).toEqual({ accountId: 'acct1', material: { jwe: 'sealed' }, createdAt: clock.ms });
        expect(await store.factors.getTotp('acct2')).toBeUndefined();
        expect(await store.factors.removeTotp('acct1')).toBe(true);
        expect(await store.factors.removeTotp('acct1')).toBe(false);
      });

      test('recovery codes: replaced as a set, each used exactly once even in parallel, counted', async () => {
        await store.factors.setRecoveryCodes('acct1', ['h1', 'h2', 'h3']);
        await store.factors.setRecoveryCodes('acct1', ['h4', 'h5']);
        await store.factors.setRecoveryCodes('acct2', ['h4']);
        expect(await store.factors.countRecoveryCodes('acct1')).toBe(2);
        expect(await store.factors.useRecoveryCode('acct1', 'h1')).toBe(false);
        const raced = await Promise.all(Array.from({ length: 5 }, () => store.factors.useRecoveryCode('acct1', 'h4')));
        expect(raced.filter(Boolean)).toHaveLength(1);
        expect(await store.factors.countRecoveryCodes('acct1')).toBe(1);
        expect(await store.factors.useRecoveryCode('acct2', 'h4')).toBe(true);
      });

      test('removeAll removes every factor of one account only', async () => {
        await store.factors.addPasskey(passkey('p1', 'acct1'));
        await store.factors.addPasskey(passkey('p2', 'acct2'));
        await store.factors.setTotp('acct1', { secret: 'A' });
        await store.factors.setRecoveryCodes('acct1', ['h1']);
        await store.factors.setRecoveryCodes('acct2', ['h2']);
        await store.factors.removeAll('acct1');
        expect(await store.factors.listPasskeys('acct1')).toEqual([]);
        expect(await store.factors.getTotp('acct1')).toBeUndefined();
        expect(await store.factors.countRecoveryCodes('acct1')).toBe(0);
        expect(await store.factors.listPasskeys('acct2')).toHaveLength(1);
        expect(await store.factors.countRecoveryCodes('acct2')).toBe(1);
      });
    });

    describe('upstreams', () => {
      const upstream = (id: string, name = `Upstream ${id}`) => ({
        id,
        name,
        preset: 'oidc' as const,
        issuer: `https://${id}.example.com`,
        clientId: `client-${id}`,
        secrets: { jwe: 'sealed-secret' },
        scope: 'openid email profile',
        buttonLabel: null,
        linkByVerifiedEmail: false,
        jit: true,
        claimMap: { name: 'display_name' },
        settings: { apiUrl: 'https://api.example.com' },
      });

      test('upsert, find, list by id, update keeps createdAt, remove', async () => {
        await store.upstreams.upsert(upstream('b'));
        clock.advance(2);
        await store.upstreams.upsert(upstream('a'));
        expect(await store.upstreams.find('b')).toEqual({ ...upstream('b'), createdAt: clock.ms - 2000, updatedAt: clock.ms - 2000 });
        expect((await store.upstreams.list()).map((u) => u.id)).toEqual(['a', 'b']);
        clock.advance(5);
        await store.upstreams.upsert({ ...upstream('b', 'Renamed'), jit: false, linkByVerifiedEmail: true, buttonLabel: 'Go' });
        expect(await store.upstreams.find('b')).toEqual({
          ...upstream('b', 'Renamed'), jit: false, linkByVerifiedEmail: true, buttonLabel: 'Go', createdAt: clock.ms - 7000, updatedAt: clock.ms,
        });
        expect(await store.upstreams.remove('b')).toBe(true);
        expect(await store.upstreams.remove('b')).toBe(false);
        expect(await store.upstreams.find('b')).toBeUndefined();
        expect(await store.upstreams.find('x'.repeat(2000))).toBeUndefined();
      });

      test('links: one account per upstream subject, listed per account oldest first, touched, unlinked only by their account', async () => {
        await store.upstreams.upsert(upstream('acme'));
        await store.upstreams.upsert(upstream('other'));
        await store.upstreamLinks.link('acme', 'sub-1', 'acct1');
        clock.advance(1);
        await store.upstreamLinks.link('other', 'sub-1', 'acct1');
        await store.upstreamLinks.link('acme', 'sub-2', 'acct2');
        await expect(store.upstreamLinks.link('acme', 'sub-1', 'acct2')).rejects.toMatchObject({ code: 'ERR_DUPLICATE', field: 'subject' });
        await expect(store.upstreamLinks.link('acme', 'sub-1', 'acct1')).rejects.toBeInstanceOf(DuplicateError);
        expect(await store.upstreamLinks.find('acme', 'sub-1')).toEqual({ upstreamId: 'acme', subject: 'sub-1', accountId: 'acct1', createdAt: clock.ms - 1000, lastUsedAt: null });
        expect(await store.upstreamLinks.find('acme', 'sub-3')).toBeUndefined();
        expect(await store.upstreamLinks.find('other', 'sub-2')).toBeUndefined();
        expect((await store.upstreamLinks.listByAccount('acct1')).map((l) => l.upstreamId)).toEqual(['acme', 'other']);
        clock.advance(4);
        await store.upstreamLinks.touch('acme', 'sub-1');
        expect((await store.upstreamLinks.find('acme', 'sub-1'))?.lastUsedAt).toBe(clock.ms);
        expect(await store.upstreamLinks.unlink('acct2', 'acme', 'sub-1')).toBe(false);
        expect(await store.upstreamLinks.unlink('acct1', 'acme', 'sub-1')).toBe(true);
        expect(await store.upstreamLinks.unlink('acct1', 'acme', 'sub-1')).toBe(false);
        // the subject is free again: it may be linked anew
        await store.upstreamLinks.link('acme', 'sub-1', 'acct2');
        expect(await store.upstreamLinks.removeAccount('acct2')).toBe(2);
        expect(await store.upstreamLinks.listByAccount('acct2')).toEqual([]);
        expect(await store.upstreamLinks.listByAccount('x'.repeat(2000))).toEqual([]);
      });

      test('two links of one subject at once: exactly one wins', async () => {
        await store.upstreams.upsert(upstream('acme'));
        const raced = await Promise.allSettled(['acct1', 'acct2', 'acct3'].map((a) => store.upstreamLinks.link('acme', 'sub-x', a)));
        expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of raced) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DuplicateError);
      });

      test('removing an upstream removes every link to it', async () => {
        await store.upstreams.upsert(upstream('acme'));
        await store.upstreams.upsert(upstream('other'));
        await store.upstreamLinks.link('acme', 'sub-1', 'acct1');
        await store.upstreamLinks.link('other', 'sub-1', 'acct1');
        expect(await store.upstreams.remove('acme')).toBe(true);
        expect(await store.upstreamLinks.find('acme', 'sub-1')).toBeUndefined();
        expect((await store.upstreamLinks.listByAccount('acct1')).map((l) => l.upstreamId)).toEqual(['other']);
      });
    });

    describe('keys', () => {
      test('insertIfNone stores a set once; later sets are ignored', async () => {
        expect(await store.keys.insertIfNone('signing', [key('k1', 'signing', clock.ms)])).toBe(true);
        expect(await store.keys.insertIfNone('signing', [key('k2', 'signing', clock.ms)])).toBe(false);
        expect((await store.keys.list('signing')).map((k) => k.kid)).toEqual(['k1']);
        expect(await store.keys.list('cookie')).toEqual([]);
        expect(await store.keys.insertIfNone('cookie', [key('c1', 'cookie', clock.ms)])).toBe(true);
      });

      test('parallel bootstraps end with exactly one key set', async () => {
        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map((n) => store.keys.insertIfNone('signing', [key(`${n}1`, 'signing', clock.ms), key(`${n}2`, 'signing', clock.ms)])),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.keys.list('signing')).toHaveLength(2);
      });

      test('rotate is atomic: when the new keys cannot be stored, the current keys stay active and nothing is added', async () => {
        await store.keys.insertIfNone('signing', [key('k1', 'signing', clock.ms), key('k2', 'signing', clock.ms)]);
        clock.advance(10);
        // the second new key has an existing kid: storing the set fails half-way
        const outcome = await store.keys.rotate('signing', [key('n1', 'signing', clock.ms), key('k1', 'signing', clock.ms)], clock.ms + 100_000).then(
          () => 'stored',
          (err: unknown) => `refused: ${String((err as Error)?.message ?? err)}`,
        );
        expect(outcome).toMatch(/^refused: /);
        const listed = await store.keys.list('signing');
        expect(listed.map((k) => [k.kid, k.retiredAt])).toEqual([['k1', null], ['k2', null]]);
      });

      test('rotate retires the current keys, keeps them until keepUntil, newest first', async () => {
        await store.keys.insertIfNone('signing', [key('old', 'signing', clock.ms)]);
        clock.advance(10);
        await store.keys.rotate('signing', [key('new', 'signing', clock.ms)], clock.ms + 100_000);
        const listed = await store.keys.list('signing');
        expect(listed.map((k) => k.kid)).toEqual(['new', 'old']);
        expect(listed[0]).toMatchObject({ retiredAt: null, expiresAt: null, material: { kid: 'new', secret: 'new-material' } });
        expect(listed[1]).toMatchObject({ retiredAt: clock.ms, expiresAt: clock.ms + 100_000 });
        clock.advance(100);
        expect((await store.keys.list('signing')).map((k) => k.kid)).toEqual(['new']);
        // only active keys count for bootstrap
        expect(await store.keys.insertIfNone('signing', [key('x', 'signing', clock.ms)])).toBe(false);
      });

      test('setMaterial replaces one usable key\'s material and nothing else; false for an unknown, other-kind or expired key', async () => {
        await store.keys.insertIfNone('signing', [key('old', 'signing', clock.ms)]);
        await store.keys.rotate('signing', [key('s1', 'signing', clock.ms), key('s2', 'signing', clock.ms)], clock.ms + 100_000);
        expect(await store.keys.setMaterial('signing', 's1', { jwe: 'sealed', kid: 's1' })).toBe(true);
        const listed = await store.keys.list('signing');
        expect(listed.find((k) => k.kid === 's1')).toEqual({ ...key('s1', 'signing', clock.ms), material: { jwe: 'sealed', kid: 's1' } });
        expect(listed.find((k) => k.kid === 's2')?.material).toEqual(key('s2', 'signing', clock.ms).material);
        expect(await store.keys.setMaterial('signing', 'nope', { jwe: 'x' })).toBe(false);
        expect(await store.keys.setMaterial('cookie', 's2', { jwe: 'x' })).toBe(false);
        clock.advance(101);
        expect(await store.keys.setMaterial('signing', 'old', { jwe: 'x' })).toBe(false);
        expect((await store.keys.list('signing')).map((k) => k.kid).sort()).toEqual(['s1', 's2']);
      });
    });

    test('a lookup value of 2,000 characters is simply not found', async () => {
      const long = 'k'.repeat(2000);
      for (const name of ['AccessToken', 'AuthorizationCode', 'Session', 'DeviceCode', 'Grant', 'Interaction'] as const) {
        const m = store.model(name);
        expect(await m.find(long)).toBeUndefined();
        expect(await m.findByUid(long)).toBeUndefined();
        expect(await m.findByUserCode(long)).toBeUndefined();
        expect(await m.consume(long)).toBe(false);
        await expect(m.destroy(long)).resolves.toBeUndefined();
        await expect(m.revokeByGrantId(long)).resolves.toBeUndefined();
      }
      expect(await store.accounts.findById(long)).toBeUndefined();
      expect(await store.accounts.findByLogin(long)).toBeUndefined();
      expect(await store.clients.find(long)).toBeUndefined();
      expect(await store.apis.find(long)).toBeUndefined();
    });

    test('ping answers while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('what callers may rely on', () => {
      test('mutating a returned record never changes what the store returns (records may be shared and frozen, or fresh copies)', async () => {
        await store.accounts.create(account('alice'));
        await store.clients.upsert({ client_id: 'c1', client_name: 'One', redirect_uris: ['https://a/cb'] });
        await store.apis.upsert({ audience: 'urn:api', name: 'API', scopes: ['read'], tokenFormat: 'jwt', accessTokenTtl: null });
        await store.model('Session').upsert('s1', { jti: 's1', nested: { a: 1 } }, 60);
        const tamper = (value: Record<string, unknown> | undefined, field: string) => {
          try {
            value![field] = 'tampered';
          } catch {
            // frozen: shared between callers, which must not mutate it
          }
        };
        tamper((await store.accounts.findById('sub-alice')) as unknown as Record<string, unknown>, 'username');
        tamper((await store.accounts.findByLogin('alice')) as unknown as Record<string, unknown>, 'email');
        tamper(await store.clients.find('c1'), 'client_name');
        tamper((await store.apis.find('urn:api')) as unknown as Record<string, unknown>, 'name');
        expect((await store.accounts.findById('sub-alice'))?.username).toBe('alice');
        expect((await store.accounts.findByLogin('alice'))?.email).toBe('alice@Example.com');
        expect((await store.clients.find('c1'))?.client_name).toBe('One');
        expect((await store.apis.find('urn:api'))?.name).toBe('API');
        // oidc-provider's payloads are always fresh copies it may change (a found grant gains
        // scopes in place), also when read again and again
        await store.model('Grant').upsert('g1', { jti: 'g1', openid: { scope: 'openid' }, resources: { 'urn:api': 'read' } }, 60);
        await store.model('AccessToken').upsert('at1', { jti: 'at1', claims: { userinfo: { email: null } } }, 60);
        for (let i = 0; i < 2; i += 1) {
          const payload = (await store.model('Session').find('s1'))!;
          expect(Object.isFrozen(payload)).toBe(false);
          (payload.nested as Record<string, unknown>).a = 2;
          expect(await store.model('Session').find('s1')).toEqual({ jti: 's1', nested: { a: 1 } });
          const grant = (await store.model('Grant').find('g1'))!;
          (grant.openid as Record<string, unknown>).scope = 'openid admin';
          (grant.resources as Record<string, unknown>)['urn:other'] = 'write';
          expect(await store.model('Grant').find('g1')).toEqual({ jti: 'g1', openid: { scope: 'openid' }, resources: { 'urn:api': 'read' } });
          const token = (await store.model('AccessToken').find('at1'))!;
          (token.claims as Record<string, Record<string, unknown>>).userinfo!.address = null;
          expect(await store.model('AccessToken').find('at1')).toEqual({ jti: 'at1', claims: { userinfo: { email: null } } });
        }
      });

      test('once the database is gone, every operation fails with StoreUnavailableError (ERR_STORE_UNAVAILABLE), never another error', async () => {
        await store.model('AccessToken').upsert('at1', { jti: 'at1' }, 60);
        await store.close();
        const operations: [string, () => Promise<unknown>][] = [
          ['model.find', () => store.model('AccessToken').find('at1')],
          ['model.upsert', () => store.model('AccessToken').upsert('at2', { jti: 'at2' }, 60)],
          ['model.consume', () => store.model('AuthorizationCode').consume('c1')],
          ['model.findByAccount', () => store.model('Session').findByAccount('acct1')],
          ['accounts.findById', () => store.accounts.findById('sub-x')],
          ['accounts.findByLogin', () => store.accounts.findByLogin('x')],
          ['accounts.create', () => store.accounts.create(account('zed'))],
          ['clients.find', () => store.clients.find('c1')],
          ['clients.list', () => store.clients.list()],
          ['apis.find', () => store.apis.find('urn:x')],
          ['consents.find', () => store.consents.find('a', 'c')],
          ['keys.list', () => store.keys.list('signing')],
          ['counters.update', () => store.counters.update('k', () => undefined)],
          ['factors.findPasskey', () => store.factors.findPasskey('p')],
          ['factors.useRecoveryCode', () => store.factors.useRecoveryCode('a', 'h')],
          ['upstreams.find', () => store.upstreams.find('u')],
          ['upstreamLinks.find', () => store.upstreamLinks.find('u', 's')],
          ['upstreamLinks.link', () => store.upstreamLinks.link('u', 's', 'a')],
          ['registrationTokens.use', () => store.registrationTokens.use('h')],
          ['registrationTokens.create', () => store.registrationTokens.create({ id: 'r', hash: 'h', maxUses: 1, expiresAt: clock.ms + 1000 })],
          ['sweep', () => store.sweep()],
          ['ping', () => store.ping()],
        ];
        for (const [name, operation] of operations) {
          const outcome = await operation().then(
            () => 'resolved',
            (err: unknown) => (err as { code?: string }).code ?? String(err),
          );
          expect([name, outcome]).toEqual([name, 'ERR_STORE_UNAVAILABLE']);
        }
      });
    });
  });
}
