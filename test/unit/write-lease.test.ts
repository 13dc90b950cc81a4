/**
 * The admin API's write leases (src/admin/write-lease.ts) on a real SQLite store's counters:
 * changes to one resource run one at a time, a lease its holder never let go of (a crashed node)
 * ends by itself, and a change that waits too long gets 409.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { Problem } from '../../src/admin/problem.js';
import { createWriteLeases } from '../../src/admin/write-lease.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/types.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir();
let store: Store;
beforeAll(async () => {
  store = await openStore(`sqlite:${join(dir, 'idport.db')}`);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('changes to one resource run one after another; to different resources, side by side', async () => {
  const exclusive = createWriteLeases(store.counters, { pollMs: 2 });
  const log: string[] = [];
  const change = (resource: string, name: string) =>
    exclusive(resource, async () => {
      log.push(`${name} start`);
      await sleep(30);
      log.push(`${name} end`);
      return name;
    });
  expect(await Promise.all([change('/users/a', 'one'), change('/users/a', 'two'), change('/users/b', 'other')])).toEqual(['one', 'two', 'other']);
  // on /users/a, each change ended before the next began
  const onA = log.filter((l) => !l.startsWith('other'));
  const [first, second] = [onA[0]!.split(' ')[0], onA[2]!.split(' ')[0]];
  expect(onA).toEqual([`${first} start`, `${first} end`, `${second} start`, `${second} end`]);
  // /users/b did not wait for /users/a
  expect(log.indexOf('other start')).toBeLessThan(log.indexOf(`${first} end`));
});

test('a failed change lets go of its lease; a lease nobody lets go of ends after leaseMs; waiting past waitMs gets 409', async () => {
  const exclusive = createWriteLeases(store.counters, { pollMs: 2, leaseMs: 200, waitMs: 1000 });
  await expect(exclusive('/clients/x', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
  expect(await exclusive('/clients/x', async () => 'next')).toBe('next');

  // a node that crashed while holding the lease: it is never let go of
  await store.counters.update('admin-write:/clients/y', (_, now) => ({ state: { holder: 42 }, expiresAt: now + 200 }));
  const started = Date.now();
  expect(await exclusive('/clients/y', async () => 'after the crash')).toBe('after the crash');
  expect(Date.now() - started).toBeGreaterThanOrEqual(150);

  const impatient = createWriteLeases(store.counters, { pollMs: 2, leaseMs: 10_000, waitMs: 50 });
  await store.counters.update('admin-write:/clients/z', (_, now) => ({ state: { holder: 42 }, expiresAt: now + 10_000 }));
  const refused = await impatient('/clients/z', async () => 'never').catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(Problem);
  expect((refused as Problem).status).toBe(409);
});
