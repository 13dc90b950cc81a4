/**
 * The admin API's user list reads one page from the account service (`page`, limit + 1 rows),
 * never every account (`list`), and keeps its public contract: opaque cursor, null on the last page.
 */
import type { AccountService } from '../../src/accounts/account-service.js';
import { userRoutes } from '../../src/admin/resources/users.js';
import type { AdminRoute } from '../../src/admin/routes.js';
import { normalizeLogin } from '../../src/storage/normalize.js';
import type { AccountPageQuery, AccountRecord } from '../../src/storage/types.js';

const record = (username: string, id = `sub-${username}`): AccountRecord => ({
  id, username, email: null, emailVerified: false, name: null, passwordHash: '', claims: {}, createdAt: 0, updatedAt: 0,
});

/** An account service whose `page` keeps the store's contract over an array, and whose `list` must not be called. */
function fakeAccounts(records: AccountRecord[]) {
  const pages: AccountPageQuery[] = [];
  const key = (a: AccountRecord) => [normalizeLogin(a.username), a.id] as const;
  const before = (x: readonly [string, string], y: readonly [string, string]) => (x[0] === y[0] ? x[1] < y[1] : x[0] < y[0]);
  const sorted = [...records].sort((a, b) => (before(key(a), key(b)) ? -1 : 1));
  const accounts = {
    list: () => Promise.reject(new Error('the user list must not load every account')),
    async page(query: AccountPageQuery) {
      pages.push(query);
      const after = query.after && ([query.after.usernameNorm, query.after.id] as const);
      const needle = query.contains?.toLowerCase();
      return sorted
        .filter((a) => !after || before(after, key(a)))
        .filter((a) => !needle || a.username.toLowerCase().includes(needle))
        .slice(0, query.limit);
    },
  };
  return { accounts: accounts as unknown as AccountService, pages };
}

const listRoute = (accounts: AccountService) => userRoutes({ accounts, audit: () => undefined }).find((r) => r.operationId === 'listUsers')!;
const get = async (route: AdminRoute, query: Record<string, string>) => {
  const parsed = route.query!.parse(query);
  return (await route.handle({ query: parsed } as never)).body as { items: { username: string }[]; next_cursor: string | null };
};

describe('GET /admin/v1/users', () => {
  test('asks the service for one page (limit + 1 rows after the cursor), never for every account', async () => {
    const { accounts, pages } = fakeAccounts(['dave', 'Bob', 'alice', 'Carol', 'ｅve'].map((u) => record(u)));
    const route = listRoute(accounts);
    const first = await get(route, { limit: '2' });
    expect(first.items.map((u) => u.username)).toEqual(['alice', 'Bob']);
    expect(pages[0]).toEqual({ after: undefined, limit: 3, contains: undefined });
    const second = await get(route, { limit: '2', cursor: first.next_cursor! });
    expect(second.items.map((u) => u.username)).toEqual(['Carol', 'dave']);
    expect(pages[1]).toEqual({ after: { usernameNorm: 'bob', id: 'sub-Bob' }, limit: 3, contains: undefined });
    const third = await get(route, { limit: '2', cursor: second.next_cursor! });
    expect(third).toEqual({ items: [expect.objectContaining({ username: 'ｅve', sub: 'sub-ｅve' })], next_cursor: null });
    // exactly limit left: no next page
    expect((await get(route, { limit: '5' })).next_cursor).toBeNull();
    expect((await get(route, { limit: '4' })).next_cursor).not.toBeNull();
    expect(await get(route, { q: 'CAR' })).toMatchObject({ items: [{ username: 'Carol' }], next_cursor: null });
    expect(pages.at(-1)).toEqual({ after: undefined, limit: 51, contains: 'CAR' });
  });

  test('the cursor is opaque base64url; one it did not give out is a 400 problem', async () => {
    const { accounts, pages } = fakeAccounts([record('a'), record('b')]);
    const route = listRoute(accounts);
    const { next_cursor } = await get(route, { limit: '1' });
    expect(next_cursor).toMatch(/^[\w-]+$/);
    for (const cursor of ['%%%', Buffer.from('no separator').toString('base64url'), Buffer.from('a\0b\0c').toString('base64url'), `${next_cursor!}=`]) {
      await expect(get(route, { cursor })).rejects.toMatchObject({ status: 400 });
    }
    expect(pages).toHaveLength(1);
  });
});
