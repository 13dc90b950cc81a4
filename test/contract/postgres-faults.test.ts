/**
 * PostgreSQL when things go wrong or get big: batched sweeps beside held locks, statement
 * timeouts, connections killed mid-transaction, NUL in values, an index per hot path, TLS as the
 * URL asks, servers that refuse or never answer at start-up, and a server that goes away and
 * comes back.
 */
import { createServer, type Socket } from 'node:net';

import pg from 'pg';

import { openStore } from '../../src/storage/open-store.js';
import { sweepBatch } from '../../src/storage/postgres/oidc-records.js';
import { connectPostgres, openPostgresStore } from '../../src/storage/postgres/pg-store.js';
import { pgQuery, usePostgres } from '../helpers/postgres.js';
import { TestClock } from './store-contract.js';

const server = usePostgres('PostgreSQL faults');

if (server) {
  describe('postgres specifics', () => {
    test(`sweep deletes in batches of ${sweepBatch}, and skips rows another transaction holds instead of waiting`, async () => {
      const url = await server.schema();
      const clock = new TestClock();
      const store = await openPostgresStore({ url, now: clock.now });
      await pgQuery(url, `INSERT INTO oidc_records (model, id, payload, expires_at) SELECT 'AccessToken', 'old-' || i, '{}', $1 FROM generate_series(1, ${sweepBatch * 2 + 7}) i`, [clock.ms + 1000]);
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
