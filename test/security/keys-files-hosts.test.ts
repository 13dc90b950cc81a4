/**
 * Attacks on what lies around the protocol: private keys written unsealed into a sealed store,
 * a store file any local user can read, and an absolute-form request target that names another
 * host. Real server on port 0, real CLI, a temp SQLite file, real HTTP (a raw socket where the
 * request line itself is the attack).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import { unseal } from '../../src/keys/key-encryption.js';
import { ensureKeys } from '../../src/keys/key-manager.js';
import { startServer } from '../../src/server.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { KeyRecord } from '../../src/storage/types.js';
import { cli, killChildren } from '../helpers/cli.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const dirs: string[] = [];
const servers: TestServer[] = [];
let umask: number;
beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(async () => {
  killChildren();
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  process.umask(umask);
});

const newDir = () => {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
};
const kek = () => new Uint8Array(randomBytes(32));
const isSealed = (k: KeyRecord) => typeof k.material.jwe === 'string';
const mode = (path: string) => statSync(path).mode & 0o777;

/** A store at `<dir>/idport.db` whose keys are sealed under `key`, with `change` applied to it. */
async function sealedStore(key: Uint8Array, change: (store: ReturnType<typeof openSqliteStore>) => Promise<unknown> = async () => {}) {
  const path = join(newDir(), 'idport.db');
  const store = openSqliteStore({ path });
  await ensureKeys(store, { kek: key });
  await change(store);
  await store.close();
  return path;
}

/** A fresh ES256 signing key in plaintext, as `idport keys rotate` without IDPORT_KEK wrote it. */
async function plaintextKey(): Promise<KeyRecord> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, kind: 'signing', material: { ...jwk, kid, alg: 'ES256', use: 'sig' }, createdAt: Date.now(), retiredAt: null, expiresAt: null };
}

const start = (path: string, options: { kek?: Uint8Array; lines?: string[] } = {}) =>
  startServer(loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${path}`, logLevel: 'silent' }), {
    kek: options.kek,
    logger: options.lines ? pino({ level: 'warn' }, { write: (line: string) => options.lines!.push(line) }) : pino({ level: 'silent' }),
  });

/** Why the server refused to start (a server that did start is closed, and says so). */
const startFailure = (path: string, options: { kek?: Uint8Array } = {}) =>
  start(path, options).then(
    async (running) => {
      await running.close();
      return 'the server started';
    },
    (err: unknown) => err,
  );

async function storedKeys(path: string) {
  const store = openSqliteStore({ path });
  try {
    return [...(await store.keys.list('signing')), ...(await store.keys.list('cookie'))];
  } finally {
    await store.close();
  }
}

describe('keys: a sealed store stays sealed', () => {
  test('`keys rotate` without IDPORT_KEK on a sealed store is refused and writes nothing', async () => {
    const path = await sealedStore(kek());
    const before = await storedKeys(path);
    const run = await cli(`sqlite:${path}`, ['keys', 'rotate']);
    const after = await storedKeys(path);
    expect(after.filter((k) => !isSealed(k)).map((k) => k.kid)).toEqual([]);
    expect(after).toEqual(before);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/set IDPORT_KEK/);
  });

  test('a server without IDPORT_KEK writes no plaintext key into a sealed store', async () => {
    // every signing key retired (a rotation cut short): a node would bootstrap a fresh set
    const path = await sealedStore(kek(), (store) => store.keys.rotate('signing', [], Date.now() + 3_600_000));
    const failure = await startFailure(path);
    const keys = await storedKeys(path);
    expect(keys.filter((k) => !isSealed(k)).map((k) => k.kid)).toEqual([]);
    expect(keys.filter((k) => k.kind === 'signing' && k.retiredAt === null)).toEqual([]);
    expect(failure).toMatchObject({ code: 'ERR_SEALED_STORE', message: expect.stringMatching(/set IDPORT_KEK/) });
  });

  test('a server without IDPORT_KEK refuses a mix of sealed and plaintext keys, naming the plaintext ones', async () => {
    const plain = await plaintextKey();
    const path = await sealedStore(kek(), (store) => store.keys.rotate('signing', [plain], Date.now() + 3_600_000));
    expect(await startFailure(path)).toMatchObject({
      code: 'ERR_SEALED_STORE',
      message: expect.stringMatching(new RegExp(`${plain.kid}.*set IDPORT_KEK`)),
    });
    expect((await storedKeys(path)).find((k) => k.kid === plain.kid)?.material).toEqual(plain.material);
  });

  test('with IDPORT_KEK, a plaintext key in a sealed store is sealed in place, with a warning naming its kid', async () => {
    const key = kek();
    const plain = await plaintextKey();
    const path = await sealedStore(key, (store) => store.keys.rotate('signing', [plain], Date.now() + 3_600_000));
    const lines: string[] = [];
    const running = await start(path, { kek: key, lines });
    try {
      const jwks = (await (await fetch(`${running.url}/jwks`)).json()) as { keys: { kid: string }[] };
      expect(jwks.keys.map((k) => k.kid)).toContain(plain.kid);
      const stored = await storedKeys(path);
      expect(stored.filter((k) => !isSealed(k)).map((k) => k.kid)).toEqual([]);
      expect(await unseal(stored.find((k) => k.kid === plain.kid)!.material, key)).toEqual(plain.material);
      const warnings = lines.map((l) => JSON.parse(l) as { level: number; kids?: string[] }).filter((l) => l.level === 40);
      expect(warnings).toEqual([expect.objectContaining({ kids: [plain.kid] })]);
      expect(lines.join('')).not.toContain(String(plain.material.d));
    } finally {
      await running.close();
    }
  });

  test('with IDPORT_KEK, a plaintext key that cannot be sealed in place stops the start', async () => {
    const key = kek();
    const plain = await plaintextKey();
    const path = await sealedStore(key, (store) => store.keys.rotate('signing', [plain], Date.now() + 3_600_000));
    const db = new Database(path);
    db.exec("CREATE TRIGGER keys_read_only BEFORE UPDATE ON keys BEGIN SELECT RAISE(ABORT, 'keys are read-only'); END");
    db.close();
    expect(await startFailure(path, { kek: key })).toMatchObject({ code: 'ERR_SEALED_STORE', message: expect.stringMatching(/could not seal/) });
  });
});

describe('files: only the owner can read the store', () => {
  test('the server creates its store folder 0700 and the database, -wal and -shm 0600', async () => {
    const parent = newDir();
    const dir = join(parent, 'var', 'idport');
    const server = await startTestServer({}, dir);
    servers.push(server);
    const db = join(dir, 'idport.db');
    expect({ var: mode(join(parent, 'var')), dir: mode(dir) }).toEqual({ var: 0o700, dir: 0o700 });
    expect([db, `${db}-wal`, `${db}-shm`].map((f) => [f, mode(f)])).toEqual([db, `${db}-wal`, `${db}-shm`].map((f) => [f, 0o600]));
  });

  test('the CLI creates its store 0600 in a 0700 folder', async () => {
    const dir = join(newDir(), 'data');
    const db = join(dir, 'idport.db');
    const run = await cli(`sqlite:${db}`, ['migrate']);
    expect(run.code).toBe(0);
    expect({ dir: mode(dir), db: mode(db) }).toEqual({ dir: 0o700, db: 0o600 });
  });

  test('an existing database, -wal and -shm readable by others are tightened to 0600 at open', async () => {
    const dir = newDir();
    const db = join(dir, 'idport.db');
    await openSqliteStore({ path: db }).close();
    // another connection keeps -wal and -shm in place, as a running node or an operator's shell would
    const other = new Database(db);
    other.pragma('journal_mode = WAL');
    other.exec('CREATE TABLE IF NOT EXISTS t (x)');
    const files = [db, `${db}-wal`, `${db}-shm`];
    for (const f of files) chmodSync(f, 0o644);
    try {
      const server = await startTestServer({}, dir);
      servers.push(server);
      expect(files.map((f) => [f, mode(f)])).toEqual(files.map((f) => [f, 0o600]));
    } finally {
      other.close();
    }
  });
});

/** Sends `head` as the request head over a raw socket and parses the (Connection: close) response. */
function rawRequest(url: string, head: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(head));
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const [headers = '', ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), body: rest.join('\r\n\r\n') });
    });
  });
}

/** Every string in a JSON value that looks like a URL. */
const urlsIn = (value: unknown): string[] =>
  typeof value === 'string' ? (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? [value] : []) : typeof value === 'object' && value ? Object.values(value).flatMap(urlsIn) : [];

describe('hosts: the request line cannot name another host', () => {
  test('an absolute-form request target cannot change the URLs discovery advertises', async () => {
    const server = await startTestServer({}, newDir());
    servers.push(server);
    const host = new URL(server.url).host;
    const discovery = async (target: string) => {
      const res = await rawRequest(server.url, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(200);
      return JSON.parse(res.body) as Record<string, unknown>;
    };

    for (const target of ['http://evil.example/.well-known/openid-configuration', 'https://evil.example:8443/.well-known/openid-configuration?x=1']) {
      const doc = await discovery(target);
      expect(doc.issuer).toBe(server.url);
      const urls = urlsIn(doc);
      expect(urls.length).toBeGreaterThan(5);
      expect(urls.filter((u) => u !== server.url && !u.startsWith(`${server.url}/`))).toEqual([]);
    }
    // naming our own host in absolute form still works
    const own = await discovery(`${server.url}/.well-known/openid-configuration`);
    expect(own.token_endpoint).toBe(`${server.url}/token`);
  });
});
