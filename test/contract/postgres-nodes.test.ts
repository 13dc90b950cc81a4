/**
 * PostgreSQL shared by several pools and processes (what several nodes do): migrations at once,
 * `idport migrate`, codes, keys and counters raced across processes, cached rows kept current by
 * LISTEN/NOTIFY, and a real server's flows.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import * as oidc from 'openid-client';
import pg from 'pg';

import { createChangeFeed } from '../../src/storage/postgres/change-feed.js';
import { migrate, migrations } from '../../src/storage/postgres/migrations.js';
import { openPostgresStore } from '../../src/storage/postgres/pg-store.js';
import { poolOptions } from '../../src/storage/postgres/pool-options.js';
import { cli, killChildren } from '../helpers/cli.js';
import { addClient, addUser, discover, loginAndRedeem } from '../helpers/flow.js';
import { pgQuery, usePostgres } from '../helpers/postgres.js';
import { startTestServer } from '../helpers/server.js';

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

const server = usePostgres('PostgreSQL across nodes');

if (server) {
  afterAll(killChildren);

  describe('postgres migrations', () => {
    const versions = async (url: string) => (await pgQuery<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
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


  describe('postgres cached clients, accounts and APIs (LISTEN/NOTIFY)', () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** A write no trigger announces (as a restore would make): shows what a process serves from its cache. */
    const unannounced = (url: string, text: string) => pgQuery(url, `SET session_replication_role = replica; ${text}`);
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
        await pgQuery(url, "UPDATE accounts SET name = 'Two' WHERE id = 'sub-1'"); // an operator's psql
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
        const killed = await pgQuery<{ n: number }>(url, "SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'idport-change-feed'");
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

    test('a cached row is never served once maxEntryAgeMs old, even when its change was never announced (a transaction pooler losing notifications)', async () => {
      const feed = createChangeFeed(poolOptions(await server.schema()), { maxEntryAgeMs: 600 });
      try {
        await sleep(400); // listening, first ping back
        let stored = { client_id: 'c1', client_name: 'One' };
        const cache = feed.cache<typeof stored>('clients');
        const load = async () => ({ ...stored });
        expect(await cache.find('c1', load)).toMatchObject({ client_name: 'One' });
        stored = { client_id: 'c1', client_name: 'Two' }; // no NOTIFY
        expect(await cache.find('c1', load)).toMatchObject({ client_name: 'One' });
        await sleep(700);
        expect(await cache.find('c1', load)).toMatchObject({ client_name: 'Two' });
      } finally {
        await feed.close();
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
      const idport = await startTestServer({ databaseUrl: await server.database() });
      try {
        await addUser(idport.store);
        const client = await addClient(idport.store);
        const config = await discover(idport.url, client.client_id, client.client_secret);
        const { tokens, callback, verifier } = await loginAndRedeem(config, idport.url, { scope: 'openid profile email offline_access', extra: { prompt: 'consent' } });
        expect(tokens.claims()?.sub).toBeDefined();
        const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
        expect(info.email).toBe('Alice@Example.com');
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        expect(refreshed.access_token).not.toBe(tokens.access_token);
        const replay = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: callback.searchParams.get('state')! }).catch((e: unknown) => e);
        expect(replay).toMatchObject({ error: 'invalid_grant' });
      } finally {
        await idport.stop();
      }
    });
  });

}
