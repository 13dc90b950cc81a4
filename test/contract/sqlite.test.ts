import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import Database from 'better-sqlite3';

import { createReadBatch } from '../../src/storage/sqlite/read-batch.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/server.js';
import { runStoreContract } from './store-contract.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

runStoreContract('sqlite (file)', async (clock) => {
  const dir = tempDir();
  dirs.push(dir);
  return openSqliteStore({ path: join(dir, 'idport.db'), now: clock.now });
});

runStoreContract('sqlite (:memory:)', async (clock) => openSqliteStore({ path: ':memory:', now: clock.now }));

const run = promisify(execFile);

/** Runs a snippet in its own Node process against the compiled store (npm test builds dist/ first). */
async function inProcess(dbPath: string, body: string): Promise<string> {
  const script = `
    const { openSqliteStore } = await import(${JSON.stringify(new URL('../../dist/storage/sqlite/sqlite-store.js', import.meta.url).href)});
    const store = openSqliteStore({ path: ${JSON.stringify(dbPath)} });
    ${body}
    await store.close();`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
  return stdout.trim();
}

describe('sqlite across processes (what several nodes on one file do)', () => {
  test('two processes redeeming one code: exactly one wins', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = join(dir, 'idport.db');
    const store = openSqliteStore({ path: db });
    for (let i = 0; i < 20; i += 1) await store.model('AuthorizationCode').upsert(`code-${i}`, { jti: `code-${i}` }, 600);
    await store.close();

    const race = `const wins = []; for (let i = 0; i < 20; i++) if (await store.model('AuthorizationCode').consume('code-' + i)) wins.push(i); console.log(JSON.stringify(wins));`;
    const results = await Promise.all([inProcess(db, race), inProcess(db, race), inProcess(db, race)]);
    const wins = results.flatMap((r) => JSON.parse(r) as number[]).sort((a, b) => a - b);
    expect(wins).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  test('processes bootstrapping keys at once end with one key set', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = join(dir, 'idport.db');
    const boot = `
      const { ensureKeys } = await import(${JSON.stringify(new URL('../../dist/keys/key-manager.js', import.meta.url).href)});
      await ensureKeys(store);
      console.log(JSON.stringify((await store.keys.list('signing')).map((k) => k.kid).sort()));`;
    const results = await Promise.all([inProcess(db, boot), inProcess(db, boot), inProcess(db, boot)]);
    expect(new Set(results).size).toBe(1);
    expect(JSON.parse(results[0]!)).toHaveLength(2);
  });
});

describe('sqlite read batching', () => {
  test('reads asked for in one turn share one read transaction; a failing read fails alone', async () => {
    const db = new Database(':memory:');
    const read = createReadBatch(db);
    const seen: boolean[] = [];
    const ok = await Promise.all([1, 2, 3].map((n) => read(() => (seen.push(db.inTransaction), n))));
    expect(ok).toEqual([1, 2, 3]);
    expect(seen).toEqual([true, true, true]);

    const results = await Promise.allSettled([
      read(() => 'first'),
      read(() => {
        throw new Error('bad read');
      }),
      read(() => (db.prepare('SELECT 3 AS n').get() as { n: number }).n),
    ]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 'first' },
      { status: 'rejected', reason: new Error('bad read') },
      { status: 'fulfilled', value: 3 },
    ]);
    expect(db.inTransaction).toBe(false);
    db.close();
  });
});
