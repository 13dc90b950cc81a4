/**
 * idport under test: the real startServer from dist/ on a fresh temp SQLite file (or the fresh
 * PostgreSQL database in BENCH_DATABASE_URL), seeded with
 * bench/lib/fixtures.mjs (user through the account service, so the password is argon2id-hashed).
 * Run by bench/run.mjs with fork(); see child-common.mjs for the IPC protocol.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { clients, jwtResource, jwtScope, machineClient, user } from '../lib/fixtures.mjs';
import { fillRecords } from '../lib/records.mjs';
import { fail, serveIpc } from './child-common.mjs';

// BENCH_IDPORT_DIST: another build's dist/ (run.mjs --against), else this checkout's
const dist = process.env.BENCH_IDPORT_DIST ? pathToFileURL(`${process.env.BENCH_IDPORT_DIST}/`) : new URL('../../dist/', import.meta.url);
const { createAccountService } = await import(new URL('accounts/account-service.js', dist).href);
const { loadConfig } = await import(new URL('config/load.js', dist).href);
const { startServer } = await import(new URL('server.js', dist).href);

const dir = mkdtempSync(join(tmpdir(), 'idport-bench-'));

try {
  const config = loadConfig({}, {
    port: 0,
    host: '127.0.0.1',
    // a fresh PostgreSQL database from run.mjs (--store=postgres), else a fresh SQLite file
    databaseUrl: process.env.BENCH_DATABASE_URL || `sqlite:${join(dir, 'idport.db')}`,
    logLevel: process.env.BENCH_LOG_LEVEL || 'warn',
    // Every virtual user comes from 127.0.0.1: lift the per-IP login throttle (60/min by default)
    // so the code-flow scenario measures the work, not the limiter. The limiter still runs.
    bruteForce: { loginsPerIpPerMinute: 1_000_000_000, ipFailuresPerHour: 1_000_000_000 },
  });
  const running = await startServer(config);
  const accounts = createAccountService(running.store, config.passwords);
  await accounts.create({ ...user, emailVerified: true });
  // JWT access tokens come with registered APIs (`idport apis add`); older idport has no API store.
  const jwtAccessTokens = typeof running.store.apis?.upsert === 'function';
  if (jwtAccessTokens) {
    await running.store.apis.upsert({ audience: jwtResource, name: 'Bench API', scopes: [jwtScope], tokenFormat: 'jwt', accessTokenTtl: null });
  }
  for (const client of clients) {
    const apiScopes = jwtAccessTokens && client.client_id === machineClient.client_id ? { api_scopes: [jwtScope] } : {};
    await running.store.clients.upsert({ ...client, ...apiScopes });
  }

  const records = Number(process.env.BENCH_RECORDS || 0);
  if (records) {
    const provider = running.idport.provider();
    await fillRecords((model) => provider[model].adapter, records, clients[1].client_id);
  }

  serveIpc(async () => {
    try {
      await running.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  process.send({ type: 'ready', url: running.url, features: { jwtAccessTokens } });
} catch (err) {
  rmSync(dir, { recursive: true, force: true });
  fail(err);
}
