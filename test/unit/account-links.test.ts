import { createAccountLinks } from '../../src/accounts/account-links.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/types.js';
import { TestClock } from '../contract/store-contract.js';

let store: Store;
let clock: TestClock;
beforeEach(() => {
  clock = new TestClock();
  store = openSqliteStore({ path: ':memory:', now: clock.now });
});
afterEach(() => store.close());

describe('links in emails', () => {
  test('a link works once, for its own purpose, until it expires; only its hash is stored', async () => {
    const links = createAccountLinks(store);
    const token = await links.issue('acct1', 'reset-password', 900, { email: 'a@example.com' });
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await store.model('AccountLink').find(token)).toBeUndefined();
    expect(await links.peek(token, 'verify-email')).toBeUndefined();
    expect(await links.redeem(token, 'verify-email')).toBeUndefined();
    expect(await links.peek(token, 'reset-password')).toEqual({ accountId: 'acct1', purpose: 'reset-password', data: { email: 'a@example.com' } });
    const raced = await Promise.all([links.redeem(token, 'reset-password'), links.redeem(token, 'reset-password')]);
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await links.peek(token, 'reset-password')).toBeUndefined();

    const late = await links.issue('acct1', 'verify-email', 60);
    clock.advance(61);
    expect(await links.redeem(late, 'verify-email')).toBeUndefined();
    for (const junk of ['', 'x', `${token}x`, 'a'.repeat(2000)]) expect(await links.redeem(junk, 'reset-password')).toBeUndefined();
  });
});
