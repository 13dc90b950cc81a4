import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import Database from 'better-sqlite3';

import { migrate } from '../../src/storage/sqlite/migrations.js';
import { createBatchMeter, createTurnBatch, inStepFrom } from '../../src/storage/sqlite/turn-batch.js';
import { cacheMaxStaleMs, openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/server.js';
import { runStoreContract, TestClock } from './store-contract.js';

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

  test('processes registering with one initial access token at once take exactly its uses', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = join(dir, 'idport.db');
    const store = openSqliteStore({ path: db });
    await store.registrationTokens.create({ id: 'iat', hash: 'hash-iat', maxUses: 5, expiresAt: Date.now() + 60_000 });
    await store.close();

    const race = `let wins = 0; for (let i = 0; i < 5; i++) if (await store.registrationTokens.use('hash-iat')) wins++; console.log(wins);`;
    const results = await Promise.all([inProcess(db, race), inProcess(db, race), inProcess(db, race)]);
    expect(results.map(Number).reduce((a, b) => a + b, 0)).toBe(5);
  });

  test('a process opening a new file while another holds its write lock waits for it, not fails', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = join(dir, 'idport.db');
    // Another process creating the same file at the same moment: it holds the write lock on the
    // empty file while this one switches it to WAL (which SQLite does not wait for on its own).
    writeFileSync(db, '', { mode: 0o600 });
    const other = new Database(db);
    other.exec('BEGIN IMMEDIATE');
    const opened = inProcess(db, `console.log((await store.keys.list('signing')).length);`);
    await new Promise((resolve) => setTimeout(resolve, 700));
    other.exec('COMMIT');
    other.close();
    expect(await opened).toBe('0');
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

describe('sqlite turn batches', () => {
  test('reads asked for in one turn share one read transaction; a failing read fails alone', async () => {
    const db = new Database(':memory:');
    const read = createTurnBatch(db, 'read');
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

  test('while batches are full, later values settle with the next batch, in order; a batch of only those opens no transaction', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    const meter = createBatchMeter();
    const read = createTurnBatch(db, 'read', { begin: () => order.push('begin'), meter });
    const write = createTurnBatch(db, 'write', { meter });
    const order: string[] = [];
    // full batches of statements (here writes) fill the meter the read batch decides by
    const insert = db.prepare('INSERT INTO t VALUES (?, 0)');
    for (let round = 0; round < 12; round += 1) {
      await Promise.all(Array.from({ length: inStepFrom * 2 }, (_, i) => write(() => insert.run(`${round}:${i}`))));
    }
    expect(meter.waits()).toBe(true);

    const settled: string[] = [];
    const all = Promise.all([
      read.later('cached').then((v) => settled.push(v)),
      read(() => (order.push('query'), 'queried')).then((v) => settled.push(v)),
    ]);
    await Promise.resolve();
    expect(settled).toEqual([]); // nothing answers before the batch
    await all;
    expect(settled).toEqual(['cached', 'queried']);
    expect(order).toEqual(['begin', 'query']);

    order.length = 0;
    expect(await read.later('alone')).toBe('alone');
    expect(order).toEqual([]);
    db.close();
  });

  test('while batches are small and mostly statements, later values settle at once, before the batch runs', async () => {
    const db = new Database(':memory:');
    const meter = createBatchMeter();
    const read = createTurnBatch(db, 'read', { begin: () => order.push('begin'), meter });
    const order: string[] = [];
    expect(meter.waits()).toBe(true); // before anything was asked: wait, as with full batches
    // small batches, two statements for each cached answer (as userinfo at 10 connections)
    for (let round = 0; round < 40; round += 1) await Promise.all([read(() => 1), read(() => 2), read.later(3)]);
    expect(meter.waits()).toBe(false);

    order.length = 0;
    const queried = read(() => (order.push('query'), 'queried'));
    const cached = read.later('cached').then((v) => (order.push(v), v));
    await Promise.resolve();
    expect(order).toEqual(['cached']); // answered before the batch began
    expect(await Promise.all([cached, queried])).toEqual(['cached', 'queried']);
    expect(order).toEqual(['cached', 'begin', 'query']);
    db.close();
  });

  test('while mostly cached answers are asked for, later values wait for the batch again', async () => {
    const db = new Database(':memory:');
    const meter = createBatchMeter();
    const read = createTurnBatch(db, 'read', { meter });
    for (let round = 0; round < 40; round += 1) await Promise.all([read(() => 1), read(() => 2), read.later(3)]);
    expect(meter.waits()).toBe(false);
    // then only cached answers (as JWT access tokens for cached clients): no statement at all
    for (let round = 0; round < 40 && !meter.waits(); round += 1) await read.later(round);
    expect(meter.waits()).toBe(true);
    let settled = false;
    const cached = read.later('cached').then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await cached;
    expect(settled).toBe(true);
    db.close();
  });

  test('writes asked for in one turn commit together, in order, each caller getting its own result', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    const write = createTurnBatch(db, 'write');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
    const take = db.prepare('UPDATE t SET v = 1 WHERE k = ? AND v = 0');
    const results = await Promise.allSettled([
      write(() => insert.run('x', 0).changes),
      write(() => take.run('x').changes), // sees the insert queued before it
      write(() => take.run('x').changes), // and loses to the take before it
      write(() => insert.run('x', 5).changes), // fails alone (duplicate key); the others stand
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([1, 1, 0, 'rejected']);
    expect(db.prepare('SELECT v FROM t WHERE k = ?').pluck().get('x')).toBe(1);
    expect(db.inTransaction).toBe(false);
    db.close();
  });
});

describe('sqlite upgrades keep what is stored', () => {
  test('a consent that pointed at a shared grant keeps what the grant held; sessions and grants become findable by account', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'idport.db');
    const old = new Database(path);
    migrate(old, 5);
    const grant = { jti: 'g1', kind: 'Grant', accountId: 'acct1', clientId: 'c1', openid: { scope: 'openid email', claims: ['given_name'] }, resources: { 'https://api.example.com': 'read:things' } };
    const insert = old.prepare('INSERT INTO oidc_records (model, id, payload, grant_id, expires_at) VALUES (?, ?, ?, ?, ?)');
    insert.run('Grant', 'g1', JSON.stringify(grant), null, Date.now() + 60_000);
    insert.run('Session', 's1', JSON.stringify({ jti: 's1', accountId: 'acct1' }), null, Date.now() + 60_000);
    insert.run('AccessToken', 'at1', JSON.stringify({ jti: 'at1', accountId: 'acct1', grantId: 'g1' }), 'g1', Date.now() + 60_000);
    old.prepare('INSERT INTO consents (account_id, client_id, grant_id, updated_at) VALUES (?, ?, ?, ?)').run('acct1', 'c1', 'g1', 1234);
    old.prepare('INSERT INTO consents (account_id, client_id, grant_id, updated_at) VALUES (?, ?, ?, ?)').run('acct1', 'c2', 'gone', 1234);
    old.close();

    const store = openSqliteStore({ path });
    try {
      expect(await store.consents.find('acct1', 'c1')).toEqual({
        accountId: 'acct1',
        clientId: 'c1',
        scope: 'openid email',
        claims: ['given_name'],
        resources: { 'https://api.example.com': 'read:things' },
        updatedAt: 1234,
      });
      // its grant was gone already: nothing to keep (the user is asked again, as before the upgrade)
      expect(await store.consents.find('acct1', 'c2')).toBeUndefined();
      expect((await store.model('Grant').findByAccount('acct1')).map((r) => r.id)).toEqual(['g1']);
      expect((await store.model('Session').findByAccount('acct1')).map((r) => r.id)).toEqual(['s1']);
      expect(await store.model('AccessToken').find('at1')).toMatchObject({ grantId: 'g1' });
    } finally {
      await store.close();
    }
  });
});

describe('sqlite query plans', () => {
  /** Every statement the store prepares when it opens. */
  const preparedByStore = () => {
    const prepared = new Set<string>();
    const prepare = Database.prototype.prepare;
    Database.prototype.prepare = function (this: Database.Database, sql: string) {
      prepared.add(sql);
      return prepare.call(this, sql);
    } as typeof prepare;
    try {
      void openSqliteStore({ path: ':memory:' }).close();
    } finally {
      Database.prototype.prepare = prepare;
    }
    return [...prepared];
  };
  const planOf = (db: Database.Database, sql: string) => {
    const named = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1], 1]));
    const explain = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
    const rows = (Object.keys(named).length ? explain.all(named) : explain.all(...Array((sql.match(/\?/g) ?? []).length).fill(1))) as { detail: string }[];
    return { sql: sql.replace(/\s+/g, ' ').trim(), plan: rows.map((r) => r.detail).join(' | ') };
  };
  // Pages of accounts filtered by `contains` read rows from the key on until LIMIT match: no index
  // can answer "contains", so they walk the username index in order (checked below), not the table.
  const isAccountSearch = (sql: string) => /FROM accounts WHERE[\s\S]* LIKE /.test(sql);

  test('every statement with a WHERE searches an index (no table scans, no partial-key scans)', () => {
    const prepared = preparedByStore();
    const db = new Database(':memory:');
    migrate(db);
    const plans = prepared
      .filter((sql) => /^\s*(SELECT|UPDATE|DELETE)\b[\s\S]*\bWHERE\b/i.test(sql) && !isAccountSearch(sql))
      .map((sql) => planOf(db, sql));
    expect(plans.length).toBeGreaterThan(15);
    for (const { sql, plan } of plans) {
      expect({ sql, plan }).toEqual({ sql, plan: expect.not.stringMatching(/\bSCAN (oidc_records|accounts|clients|keys|apis|consents|counters)\b/) });
      // A lookup by uid or user code must not walk every record of the model.
      expect({ sql, plan }).toEqual({ sql, plan: expect.not.stringMatching(/USING (PRIMARY KEY|INDEX oidc_records_key) \(model=\?\)/) });
    }
    expect(plans.find((p) => p.sql.includes('uid = ?'))?.plan).toContain('USING INDEX oidc_records_uid (model=? AND uid=?)');
    expect(plans.find((p) => p.sql.includes('user_code = ?'))?.plan).toContain('USING INDEX oidc_records_user_code (model=? AND user_code=?)');
    db.close();
  });

  test('a page of accounts walks the unique username index from its key and stops at LIMIT: no sort of the table', () => {
    const db = new Database(':memory:');
    migrate(db);
    const indexes = db.prepare("SELECT name FROM pragma_index_list('accounts') WHERE \"unique\" = 1").pluck().all() as string[];
    const usernameIndex = indexes.find((name) => (db.prepare('SELECT name FROM pragma_index_info(?)').pluck().all(name) as string[]).join() === 'username_norm');
    expect(usernameIndex).toBeDefined();
    const pages = preparedByStore().filter((sql) => /ORDER BY username_norm, id LIMIT @limit/.test(sql));
    expect(pages).toHaveLength(4);
    for (const sql of pages) {
      const { plan } = planOf(db, sql);
      expect({ sql, plan }).toEqual({ sql, plan: expect.stringContaining(`USING INDEX ${usernameIndex}`) });
      expect({ sql, plan }).toEqual({ sql, plan: expect.not.stringMatching(/TEMP B-TREE/) });
      if (sql.includes('@afterNorm')) expect({ sql, plan }).toEqual({ sql, plan: `SEARCH accounts USING INDEX ${usernameIndex} (username_norm>?)` });
    }
    expect(isAccountSearch(pages.find((sql) => sql.includes('LIKE'))!)).toBe(true);
    db.close();
  });
});

describe('sqlite cached clients, accounts, tokens and grants', () => {
  const twoStores = () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'idport.db');
    const clock = new TestClock();
    // `b` stands for another process (the CLI, another worker) on the same file.
    return { clock, path, a: openSqliteStore({ path, now: clock.now }), b: openSqliteStore({ path, now: clock.now }) };
  };

  test('a change made by another process is seen by the next read batch', async () => {
    const { a, b, path } = twoStores();
    await b.clients.upsert({ client_id: 'c1', client_name: 'One' });
    await b.accounts.create({ id: 'sub-1', username: 'one', email: null, emailVerified: false, name: 'One', passwordHash: 'h', claims: {} });
    await b.apis.upsert({ audience: 'urn:api', name: 'One', scopes: ['read'], tokenFormat: 'jwt', accessTokenTtl: null });
    expect(await a.clients.find('c1')).toMatchObject({ client_name: 'One' });
    expect(await a.accounts.findById('sub-1')).toMatchObject({ name: 'One' });
    expect(await a.apis.find('urn:api')).toMatchObject({ name: 'One' });

    await b.clients.upsert({ client_id: 'c1', client_name: 'Two' });
    await b.apis.upsert({ audience: 'urn:api', name: 'Two', scopes: ['read'], tokenFormat: 'jwt', accessTokenTtl: null });
    // Not even through idport: a plain connection, as an operator's sqlite3 shell would.
    const raw = new Database(path);
    raw.prepare("UPDATE accounts SET name = 'Two' WHERE id = 'sub-1'").run();
    raw.close();

    await a.model('Session').find('any'); // any lookup runs a batch, which checks the counters
    expect(await a.clients.find('c1')).toMatchObject({ client_name: 'Two' });
    expect(await a.accounts.findById('sub-1')).toMatchObject({ name: 'Two' });
    expect(await a.apis.find('urn:api')).toMatchObject({ name: 'Two' });

    await b.clients.remove('c1');
    await b.accounts.remove('sub-1');
    await b.apis.remove('urn:api');
    await a.model('Session').find('any');
    expect(await a.clients.find('c1')).toBeUndefined();
    expect(await a.accounts.findById('sub-1')).toBeUndefined();
    expect(await a.apis.find('urn:api')).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  test(`with no batch in between, a cached row is trusted for at most ${cacheMaxStaleMs} ms`, async () => {
    const { a, b, clock } = twoStores();
    await b.clients.upsert({ client_id: 'c1', client_name: 'One' });
    expect(await a.clients.find('c1')).toMatchObject({ client_name: 'One' });
    await b.clients.upsert({ client_id: 'c1', client_name: 'Two' });
    clock.advance((cacheMaxStaleMs + 1) / 1000);
    expect(await a.clients.find('c1')).toMatchObject({ client_name: 'Two' });
    await Promise.all([a.close(), b.close()]);
  });

  test('tokens and grants cached by one process: its next lookup sees what another process changed, with no batch in between', async () => {
    const { a, b, path } = twoStores();
    await b.model('Grant').upsert('g1', { jti: 'g1', openid: { scope: 'openid' } }, 60);
    await b.model('AccessToken').upsert('at1', { jti: 'at1', grantId: 'g1' }, 60);
    await b.model('AccessToken').upsert('at2', { jti: 'at2', grantId: 'g2' }, 60);
    await b.model('RefreshToken').upsert('rt1', { jti: 'rt1', grantId: 'g2' }, 60);
    await b.model('ClientCredentials').upsert('cc1', { jti: 'cc1' }, 60);
    const look = () =>
      Promise.all([
        a.model('Grant').find('g1'),
        a.model('AccessToken').find('at1'),
        a.model('AccessToken').find('at2'),
        a.model('RefreshToken').find('rt1'),
        a.model('ClientCredentials').find('cc1'),
      ]);
    await look();
    expect(await look()).toEqual([
      { jti: 'g1', openid: { scope: 'openid' } },
      { jti: 'at1', grantId: 'g1' },
      { jti: 'at2', grantId: 'g2' },
      { jti: 'rt1', grantId: 'g2' },
      { jti: 'cc1' },
    ]);

    await b.model('Grant').upsert('g1', { jti: 'g1', openid: { scope: 'openid email' } }, 60);
    await b.model('AccessToken').destroy('at2');
    expect(await b.model('RefreshToken').consume('rt1')).toBe(true);
    // not even through idport: a plain connection, as an operator's sqlite3 shell would
    const raw = new Database(path);
    raw.prepare("DELETE FROM oidc_records WHERE model = 'ClientCredentials' AND id = 'cc1'").run();
    raw.close();
    const [grant, at1, at2, rt1, cc1] = await look();
    expect([grant, at1, at2, cc1]).toEqual([{ jti: 'g1', openid: { scope: 'openid email' } }, { jti: 'at1', grantId: 'g1' }, undefined, undefined]);
    expect(rt1).toMatchObject({ jti: 'rt1', consumed: expect.any(Number) });

    await b.model('Grant').revokeByGrantId('g1');
    expect(await Promise.all([a.model('Grant').find('g1'), a.model('AccessToken').find('at1')])).toEqual([undefined, undefined]);
    await Promise.all([a.close(), b.close()]);
  });

  test('cached rows are frozen: no caller can change what the next one reads', async () => {
    const { a, b } = twoStores();
    await a.clients.upsert({ client_id: 'c1', client_name: 'One', redirect_uris: ['https://a/cb'] });
    const client = await a.clients.find('c1');
    expect(Object.isFrozen(client)).toBe(true);
    expect(Object.isFrozen(client?.redirect_uris)).toBe(true);
    expect(() => (client as unknown as { redirect_uris: string[] }).redirect_uris.push('https://evil/cb')).toThrow(TypeError);
    await Promise.all([a.close(), b.close()]);
  });
});
