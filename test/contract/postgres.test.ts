import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { promisify } from 'node:util';

import pg from 'pg';

import { openStore } from '../../src/storage/open-store.js';
import { migrate, migrations } from '../../src/storage/postgres/migrations.js';
import { connectPostgres, openPostgresStore } from '../../src/storage/postgres/pg-store.js';
import { sweepBatch } from '../../src/storage/postgres/oidc-records.js';
import * as oidc from 'openid-client';

import { cli, killChildren } from '../helpers/cli.js';
import { addClient, addUser, discover, loginAndRedeem } from '../helpers/flow.js';
import { startTestServer } from '../helpers/server.js';
import { postgresMissing, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runStoreContract, TestClock } from './store-contract.js';

const missing = postgresMissing();
const run = promisify(execFile);

/** Runs a snippet in its own Node process against the compiled store (npm test builds dist/ first). */
async function inProcess(url: string, body: string): Promise<string> {
  const script = `
    const { openPostgresStore } = await import(${JSON.stringify(new URL('../../dist/storage/postgres/pg-store.js', import.meta.url).href)});
    const store = await openPostgresStore({ url: ${JSON.stringify(url)} });
    ${body}
    await store.close();`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  return stdout.trim();
}

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

if (missing) {
  process.stderr.write(`SKIPPED: PostgreSQL storage contract suite: ${missing}\n`);
  test.skip(`PostgreSQL storage contract suite: SKIPPED (${missing})`, () => undefined);
} else {
  let server: TestPostgres;
  beforeAll(async () => {
    server = (await startPostgres())!;
  }, 60_000);
  const server_ = { database: () => server.database() };
  afterAll(async () => {
    await killChildren();
    await server?.stop();
  }, 30_000);

  // Each test gets a schema of its own (migrated by opening the store) in this file's database.
  runStoreContract('postgres', async (clock) => openPostgresStore({ url: await server.schema(), now: clock.now }));

  describe('postgres migrations', () => {
    const versions = async (url: string) => (await sql<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
    const all = migrations.map((_, i) => i + 1);

    test('opening the store twice migrates once; a later start finds nothing to do', async () => {
      const url = await server.schema();
      await (await openPostgresStore({ url })).close();
      await (await openPostgresStore({ url })).close();
      expect(await versions(url)).toEqual(all);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        expect(await migrate(client)).toBe(0);
      } finally {
        await client.end();
      }
    });

    test('several pools starting at once on a new database: one migrates, the others wait for it (advisory lock)', async () => {
      const url = await server.database();
      const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore({ url })));
      await Promise.all(stores.map((s) => s.close()));
      expect(await versions(url)).toEqual(all);
    });

    test('several processes starting at once on a new database all come up on one schema', async () => {
      const url = await server.database();
      const body = `await store.ping(); console.log('up');`;
      expect(await Promise.all([inProcess(url, body), inProcess(url, body), inProcess(url, body)])).toEqual(['up', 'up', 'up']);
      expect(await versions(url)).toEqual(all);
    });

    test('idport migrate against PostgreSQL: applies the schema, says so, and is safe to repeat', async () => {
      const url = await server.database();
      const first = await cli(url, ['migrate']);
      expect({ code: first.code, stdout: first.stdout, stderr: first.stderr }).toEqual({ code: 0, stdout: 'PostgreSQL schema is up to date\n', stderr: '' });
      expect(await versions(url)).toEqual(all);
      const again = await cli(url, ['migrate', '--json']);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toEqual({ migrated: true, store: 'postgres' });
      // and the CLI works on that store
      expect((await cli(url, ['users', 'add', '--username', 'alice', '--password', 'correct horse battery staple', '--email', 'alice@example.com'])).code).toBe(0);
      const listed = await cli(url, ['users', 'list', '--json']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('alice@example.com');
    });
  });

  describe('postgres across processes (what several nodes on one database do)', () => {
    test('three processes redeeming the same codes: each code is won exactly once', async () => {
      const url = await server.database();
      const store = await openPostgresStore({ url });
      for (let i = 0; i < 20; i += 1) await store.model('AuthorizationCode').upsert(`code-${i}`, { jti: `code-${i}` }, 600);
      await store.close();
      const race = `const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.model('AuthorizationCode').consume('code-' + i)));
        console.log(JSON.stringify(wins.flatMap((won, i) => (won ? [i] : []))));`;
      const results = await Promise.all([inProcess(url, race), inProcess(url, race), inProcess(url, race)]);
      const wins = results.flatMap((r) => JSON.parse(r) as number[]).sort((a, b) => a - b);
      expect(wins).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    test('processes bootstrapping keys at once end with one key set', async () => {
      const url = await server.database();
      const boot = `
        const { ensureKeys } = await import(${JSON.stringify(new URL('../../dist/keys/key-manager.js', import.meta.url).href)});
        await ensureKeys(store);
        console.log(JSON.stringify((await store.keys.list('signing')).map((k) => k.kid).sort()));`;
      const results = await Promise.all([inProcess(url, boot), inProcess(url, boot), inProcess(url, boot)]);
      expect(new Set(results).size).toBe(1);
      expect(JSON.parse(results[0]!)).toHaveLength(2);
    });

    test('parallel counter increments from three processes all count', async () => {
      const url = await server.database();
      const body = `await Promise.all(Array.from({ length: 30 }, () => store.counters.update('hot', (c, now) => ({ state: { n: (c?.state.n ?? 0) + 1 }, expiresAt: now + 60000 }))));`;
      await Promise.all([inProcess(url, body), inProcess(url, body), inProcess(url, body)]);
      const store = await openPostgresStore({ url });
      expect((await store.counters.get('hot'))?.state).toEqual({ n: 90 });
      await store.close();
    });
  });

  describe('postgres specifics', () => {
    test(`sweep deletes in batches of ${sweepBatch}, and skips rows another transaction holds instead of waiting`, async () => {
      const url = await server.schema();
      const clock = new TestClock();
      const store = await openPostgresStore({ url, now: clock.now });
      await sql(url, `INSERT INTO oidc_records (model, id, payload, expires_at) SELECT 'AccessToken', 'old-' || i, '{}', $1 FROM generate_series(1, ${sweepBatch * 2 + 7}) i`, [clock.ms + 1000]);
      await store.model('AccessToken').upsert('live', { jti: 'live' }, 3600);
      clock.advance(2);
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query("SELECT 1 FROM oidc_records WHERE id = 'old-1' FOR UPDATE");
        const started = Date.now();
        expect(await store.sweep()).toBe(sweepBatch * 2 + 6);
        expect(Date.now() - started).toBeLessThan(5000);
        await holder.query('ROLLBACK');
      } finally {
        await holder.end();
      }
      expect(await store.sweep()).toBe(1);
      expect(await store.model('AccessToken').find('live')).toMatchObject({ jti: 'live' });
      await store.close();
    });

    test('a statement past statementTimeoutMs (a row locked too long) fails with StoreUnavailableError; the store works on', async () => {
      const url = await server.schema();
      const store = await openPostgresStore({ url, statementTimeoutMs: 300 });
      await store.model('AuthorizationCode').upsert('c1', { jti: 'c1' }, 60);
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query("SELECT 1 FROM oidc_records WHERE id = 'c1' FOR UPDATE");
        await expect(store.model('AuthorizationCode').consume('c1')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
        await holder.query('ROLLBACK');
      } finally {
        await holder.end();
      }
      expect(await store.model('AuthorizationCode').consume('c1')).toBe(true);
      await store.close();
    });

    test('a connection killed in the middle of a transaction: StoreUnavailableError, and the process and pool live on', async () => {
      const url = await server.schema();
      const store = await openPostgresStore({ url });
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      try {
        // the bootstrap's transaction waits for the kind's advisory lock, which `holder` holds
        await holder.query('BEGIN');
        await holder.query("SELECT pg_advisory_xact_lock(hashtext('idport:keys:signing'))");
        const key = { kid: 'k1', kind: 'signing' as const, material: {}, createdAt: 1, retiredAt: null, expiresAt: null };
        const pending = store.keys.insertIfNone('signing', [key]).then(() => 'resolved', (err: unknown) => (err as { code?: string }).code);
        let killed = 0;
        for (let i = 0; i < 100 && !killed; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          const { rows } = await holder.query<{ n: number }>(
            "SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%idport:keys:%' AND wait_event_type = 'Lock'",
          );
          killed = rows[0]!.n;
        }
        expect(killed).toBe(1);
        expect(await pending).toBe('ERR_STORE_UNAVAILABLE');
        await holder.query('ROLLBACK');
      } finally {
        await holder.end();
      }
      await new Promise((resolve) => setTimeout(resolve, 100)); // an unhandled 'error' event would have crashed us by now
      expect(await store.keys.insertIfNone('signing', [{ kid: 'k2', kind: 'signing', material: {}, createdAt: 1, retiredAt: null, expiresAt: null }])).toBe(true);
      await store.close();
    });

    test('values holding NUL (TEXT cannot) are simply not found; counter keys holding NUL still count, one key each', async () => {
      const store = await openPostgresStore({ url: await server.schema() });
      expect(await store.model('Session').find('a\0b')).toBeUndefined();
      expect(await store.model('Session').findByUid('a\0b')).toBeUndefined();
      expect(await store.accounts.findByLogin('alice\0')).toBeUndefined();
      expect(await store.clients.find('c\0')).toBeUndefined();
      const bump = (key: string) => store.counters.update(key, (c, now) => ({ state: { n: (c?.state.n ?? 0) + 1 }, expiresAt: now + 60_000 }));
      await bump('login:a\0b');
      await bump('login:a\0b');
      await bump('login:a\\0b');
      expect((await store.counters.get('login:a\0b'))?.state).toEqual({ n: 2 });
      expect((await store.counters.get('login:a\\0b'))?.state).toEqual({ n: 1 });
      // payloads may hold NUL ("\u0000" in JSON): the json type keeps them
      await store.model('Interaction').upsert('i1', { jti: 'i1', params: { login_hint: 'x\0y' } }, 60);
      expect(await store.model('Interaction').find('i1')).toEqual({ jti: 'i1', params: { login_hint: 'x\0y' } });
      await store.close();
    });

    test('every hot-path lookup has an index (no sequential scan even with scans discouraged)', async () => {
      const url = await server.schema();
      await (await openPostgresStore({ url })).close();
      const queries = [
        "SELECT payload FROM oidc_records WHERE model = 'Session' AND id = 'x' AND (expires_at IS NULL OR expires_at > 1)",
        "SELECT payload FROM oidc_records WHERE model = 'Session' AND uid = 'x' AND (expires_at IS NULL OR expires_at > 1)",
        "SELECT payload FROM oidc_records WHERE model = 'DeviceCode' AND user_code = 'x' AND (expires_at IS NULL OR expires_at > 1)",
        "SELECT id FROM oidc_records WHERE model = 'Grant' AND account_id = 'x'",
        "DELETE FROM oidc_records WHERE grant_id = 'g' OR (model = 'Grant' AND id = 'g')",
        'SELECT model, id FROM oidc_records WHERE expires_at <= 5 LIMIT 500',
        "SELECT 1 FROM account_logins l JOIN accounts a ON a.id = l.account_id WHERE l.login = 'x'",
        "SELECT * FROM counters WHERE key = 'k'",
        'SELECT key FROM counters WHERE expires_at <= 5 LIMIT 500',
        "SELECT * FROM keys WHERE kind = 'signing' ORDER BY created_at DESC",
        "SELECT * FROM passkeys WHERE account_id = 'a' ORDER BY created_at",
        "SELECT * FROM upstream_links WHERE account_id = 'a'",
      ];
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('SET enable_seqscan = off');
        for (const query of queries) {
          const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
          expect({ query, plan }).toEqual({ query, plan: expect.not.stringMatching(/Seq Scan/) });
        }
      } finally {
        await client.end();
      }
    });
  });

  describe('postgres cached clients, accounts and APIs (LISTEN/NOTIFY)', () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** A write no trigger announces (as a restore would make): shows what a process serves from its cache. */
    const unannounced = (url: string, text: string) => sql(url, `SET session_replication_role = replica; ${text}`);
    const twoNodes = async () => {
      const url = await server.schema();
      const [a, b] = [await openPostgresStore({ url }), await openPostgresStore({ url })];
      await sleep(400); // both change feeds listening, their first pings back
      return { url, a, b };
    };

    test('a change made through another node, or by SQL, is seen within 1 s; the cache is used meanwhile', async () => {
      const { url, a, b } = await twoNodes();
      try {
        await b.clients.upsert({ client_id: 'c1', client_name: 'One' });
        await b.accounts.create({ id: 'sub-1', username: 'one', email: null, emailVerified: false, name: 'One', passwordHash: 'h', claims: {} });
        await b.apis.upsert({ audience: 'urn:api', name: 'One', scopes: ['read'], tokenFormat: 'jwt', accessTokenTtl: null });
        expect(await a.clients.find('c1')).toMatchObject({ client_name: 'One' });
        expect(await a.accounts.findById('sub-1')).toMatchObject({ name: 'One' });
        expect(await a.apis.find('urn:api')).toMatchObject({ name: 'One' });

        // served from a's cache: an unannounced change is not seen
        await unannounced(url, `UPDATE clients SET metadata = '{"client_id":"c1","client_name":"Silent"}'; UPDATE accounts SET name = 'Silent'; UPDATE apis SET name = 'Silent'`);
        expect(await a.clients.find('c1')).toMatchObject({ client_name: 'One' });
        expect(await a.accounts.findById('sub-1')).toMatchObject({ name: 'One' });
        expect(await a.apis.find('urn:api')).toMatchObject({ name: 'One' });
        // b never looked c1 up: it reads the database
        expect(await b.clients.find('c1')).toMatchObject({ client_name: 'Silent' });

        await b.clients.upsert({ client_id: 'c1', client_name: 'Two' });
        await b.apis.upsert({ audience: 'urn:api', name: 'Two', scopes: ['read'], tokenFormat: 'jwt', accessTokenTtl: null });
        await sql(url, "UPDATE accounts SET name = 'Two' WHERE id = 'sub-1'"); // an operator's psql
        await sleep(1000);
        expect(await a.clients.find('c1')).toMatchObject({ client_name: 'Two' });
        expect(await a.accounts.findById('sub-1')).toMatchObject({ name: 'Two' });
        expect(await a.apis.find('urn:api')).toMatchObject({ name: 'Two' });

        await b.clients.remove('c1');
        await b.accounts.remove('sub-1');
        await b.apis.remove('urn:api');
        await sleep(1000);
        expect(await a.clients.find('c1')).toBeUndefined();
        expect(await a.accounts.findById('sub-1')).toBeUndefined();
        expect(await a.apis.find('urn:api')).toBeUndefined();
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    test('while the change feed is down nothing is served from the cache; it reconnects and caching resumes', async () => {
      const { url, a, b } = await twoNodes();
      try {
        await a.clients.upsert({ client_id: 'c1', client_name: 'One' });
        expect(await a.clients.find('c1')).toMatchObject({ client_name: 'One' });
        const killed = await sql<{ n: number }>(url, "SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'idport-change-feed'");
        expect(killed[0]!.n).toBeGreaterThanOrEqual(2);
        await sleep(100);
        await unannounced(url, `UPDATE clients SET metadata = '{"client_id":"c1","client_name":"Unseen by the feed"}'`);
        expect(await a.clients.find('c1')).toMatchObject({ client_name: 'Unseen by the feed' });
        await sleep(1600); // reconnected (after 1 s) and pinged
        expect(await a.clients.find('c1')).toMatchObject({ client_name: 'Unseen by the feed' });
        await unannounced(url, `UPDATE clients SET metadata = '{"client_id":"c1","client_name":"Cached again"}'`);
        expect(await a.clients.find('c1')).toMatchObject({ client_name: 'Unseen by the feed' });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    test('cached rows are frozen: no caller can change what the next one reads', async () => {
      const { a, b } = await twoNodes();
      try {
        await a.clients.upsert({ client_id: 'c1', client_name: 'One', redirect_uris: ['https://a/cb'] });
        await a.clients.find('c1');
        const client = await a.clients.find('c1');
        expect(Object.isFrozen(client)).toBe(true);
        expect(() => (client as unknown as { redirect_uris: string[] }).redirect_uris.push('https://evil/cb')).toThrow(TypeError);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });

  describe('a real server on PostgreSQL', () => {
    test('sign-in through the pages, code redeemed, userinfo, refresh; a replayed code is refused', async () => {
      const server = await startTestServer({ databaseUrl: await server_.database() });
      try {
        await addUser(server.store);
        const client = await addClient(server.store);
        const config = await discover(server.url, client.client_id, client.client_secret);
        const { tokens, callback, verifier } = await loginAndRedeem(config, server.url, { scope: 'openid profile email offline_access', extra: { prompt: 'consent' } });
        expect(tokens.claims()?.sub).toBeDefined();
        const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
        expect(info.email).toBe('Alice@Example.com');
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        expect(refreshed.access_token).not.toBe(tokens.access_token);
        const replay = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: callback.searchParams.get('state')! }).catch((e: unknown) => e);
        expect(replay).toMatchObject({ error: 'invalid_grant' });
      } finally {
        await server.stop();
      }
    });
  });

  describe('postgres over TLS, when the URL asks (sslmode)', () => {
    const tlsOf = async (url: string) => {
      const pool = await connectPostgres(url, {});
      try {
        return (await pool.query<{ ssl: boolean; version: string | null }>('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0];
      } finally {
        await pool.end();
      }
    };
    const withParams = (url: string, params: Record<string, string>) => {
      const u = new URL(url);
      for (const [name, value] of Object.entries(params)) u.searchParams.set(name, value);
      return u.toString();
    };

    test('no sslmode: plain; verify-full with the server\'s CA: TLS, certificate checked; verify-full without it: refused at start-up', async () => {
      if (!server.tlsCert) {
        process.stderr.write(`SKIPPED: PostgreSQL TLS test: ${server.origin} offers no certificate of ours (an external server, or no openssl)\n`);
        return;
      }
      const url = await server.database();
      expect(await tlsOf(url)).toMatchObject({ ssl: false });
      expect(await tlsOf(withParams(url, { sslmode: 'verify-full', sslrootcert: server.tlsCert }))).toMatchObject({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
      expect(await tlsOf(withParams(url, { sslmode: 'no-verify' }))).toMatchObject({ ssl: true });
      const untrusted = await openStore(withParams(url, { sslmode: 'verify-full' })).catch((e: unknown) => e);
      expect(untrusted).toMatchObject({ code: 'ERR_STORE_CONNECT', message: expect.stringMatching(/^cannot use PostgreSQL at 127\.0\.0\.1:\d+: .*self[- ]signed/) });
      // and the whole store works over TLS
      const store = await openPostgresStore({ url: withParams(url, { sslmode: 'verify-full', sslrootcert: server.tlsCert }) });
      await store.model('Session').upsert('s1', { jti: 's1' }, 60);
      expect(await store.model('Session').find('s1')).toEqual({ jti: 's1' });
      await store.close();
    });
  });

  describe('postgres that cannot be used at start-up', () => {
    test('refused: ERR_STORE_CONNECT naming the host, never the password', async () => {
      await import('../../src/storage/postgres/pg-store.js');
      const err = (await openStore('postgres://admin:hunter2@127.0.0.1:1/idport').catch((e: unknown) => e)) as Error & { code?: string };
      expect(err).toMatchObject({ code: 'ERR_STORE_CONNECT', message: expect.stringMatching(/^cannot use PostgreSQL at 127\.0\.0\.1:1: /) });
      expect(err.message).not.toContain('hunter2');
      expect(err.message.split('\n')).toHaveLength(1);
    });

    test('a server that never answers: start-up gives up after connectTimeoutMs', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as { port: number };
      try {
        await import('../../src/storage/postgres/pg-store.js');
        const started = performance.now();
        await expect(openStore(`postgresql://admin:hunter2@127.0.0.1:${port}/idport`, {}, {}, { connectTimeoutMs: 1000 })).rejects.toMatchObject({
          code: 'ERR_STORE_CONNECT',
          message: expect.stringMatching(new RegExp(`^cannot use PostgreSQL at 127\\.0\\.0\\.1:${port}: `)),
        });
        const seconds = (performance.now() - started) / 1000;
        expect(seconds).toBeGreaterThanOrEqual(0.9);
        expect(seconds).toBeLessThan(5);
        // connect_timeout (libpq's, seconds) written in the URL wins over the setting
        const fromUrl = performance.now();
        await expect(openStore(`postgres://127.0.0.1:${port}/idport?connect_timeout=2`, {}, {}, { connectTimeoutMs: 60_000 })).rejects.toMatchObject({ code: 'ERR_STORE_CONNECT' });
        expect((performance.now() - fromUrl) / 1000).toBeLessThan(6);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    }, 20_000);
  });

  // Last in the file: it stops this file's server for a moment.
  describe('postgres going away while running', () => {
    test('while the server is down every operation fails with StoreUnavailableError; once it is back the same store works on', async () => {
      if (!server.outage) {
        process.stderr.write(`SKIPPED: PostgreSQL outage test: ${server.origin} cannot be stopped by the test\n`);
        return;
      }
      const url = await server.database();
      const store = await openPostgresStore({ url, connectTimeoutMs: 2000 });
      await store.model('Session').upsert('s1', { jti: 's1' }, 600);
      await server.outage.begin();
      try {
        const operations: [string, () => Promise<unknown>][] = [
          ['model.find', () => store.model('Session').find('s1')],
          ['model.upsert', () => store.model('Session').upsert('s2', { jti: 's2' }, 60)],
          ['model.consume', () => store.model('AuthorizationCode').consume('c1')],
          ['accounts.findByLogin', () => store.accounts.findByLogin('alice')],
          ['counters.update', () => store.counters.update('k', () => undefined)],
          ['keys.rotate', () => store.keys.rotate('signing', [], 0)],
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
      } finally {
        await server.outage.end();
      }
      await expect(store.ping()).resolves.toBeUndefined();
      expect(await store.model('Session').find('s1')).toEqual({ jti: 's1' });
      await store.close();
    }, 60_000);
  });
}
