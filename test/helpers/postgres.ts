/**
 * A throwaway PostgreSQL server for tests. `startPostgres()` returns one of:
 * - the server named by POSTGRES_TEST_URL (postgres://user:pass@host:port/db, a user that may
 *   create databases), when set;
 * - else a cluster of its own: `initdb` into a temp folder and `pg_ctl start` on a free port, the
 *   socket in that folder too (as the `postgres` user when we are root: the server refuses root),
 *   from the binaries in POSTGRES_BIN or /usr/lib/postgresql/15/bin; stopped and removed by
 *   `stop()`, and also when the process exits;
 * - undefined when neither exists: the caller prints a SKIPPED line and skips.
 * Each test file calls it once; `database()` makes a fresh database, `schema()` a fresh schema in
 * one database (cheap: one per test), each as a URL.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import pg from 'pg';

const run = promisify(execFile);

export const postgresBin = process.env.POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** where it came from, for messages */
  readonly origin: string;
  /**
   * The server's self-signed certificate (CN and SAN localhost, 127.0.0.1) when it accepts TLS
   * (our own cluster, when openssl is there): connections choose TLS or not, as `sslmode` says.
   */
  readonly tlsCert: string | undefined;
  /** a URL of a new, empty database */
  database(): Promise<string>;
  /** a URL of a new, empty schema (search_path set through the URL's `options`) in this file's database */
  schema(): Promise<string>;
  /** drops what it made (external server) or stops and removes the cluster */
  stop(): Promise<void>;
  /** our own cluster only: stops the server (an outage) and starts it again on the same port and data */
  outage?: { begin(): Promise<void>; end(): Promise<void> };
}

let counter = 0;
const uniqueName = (prefix: string) => `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter += 1)}`;

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

const withSearchPath = (url: string, schema: string) => {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
};

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A harness over one server: databases made and dropped through `adminUrl`. */
function harness(adminUrl: string, origin: string, shutdown: () => Promise<void>, tlsCert?: string): TestPostgres {
  const made: string[] = [];
  let fileDb: string | undefined;
  const database = async () => {
    const name = uniqueName('idport_test');
    await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    made.push(name);
    return withDatabase(adminUrl, name);
  };
  return {
    origin,
    tlsCert,
    database,
    async schema() {
      fileDb ??= await database();
      const name = uniqueName('t');
      await admin(fileDb, (c) => c.query(`CREATE SCHEMA ${name}`));
      return withSearchPath(fileDb, name);
    },
    async stop() {
      await admin(adminUrl, async (c) => {
        for (const name of made) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }).catch(() => undefined);
      await shutdown();
    },
  };
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  const path = join(postgresBin, bin);
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Stops a cluster synchronously and removes its folder (on exit, and for clusters of dead test runs). */
function destroySync(dir: string) {
  const data = join(dir, 'data');
  if (existsSync(join(data, 'postmaster.pid'))) {
    const [cmd, args] = pgCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    try {
      execFileSync(cmd, args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
    } catch {
      // already stopped
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Clusters left by test processes that died without cleaning up (SIGKILL): nobody else removes them. */
function reapOrphans(base: string) {
  for (const entry of readdirSync(base)) {
    if (!entry.startsWith('idport-pg-')) continue;
    const dir = join(base, entry);
    try {
      const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      if (owner && !pidAlive(owner)) destroySync(dir);
    } catch {
      // not ours, or being made right now
    }
  }
}

async function startCluster(): Promise<TestPostgres> {
  const base = tmpdir();
  reapOrphans(base);
  const dir = mkdtempSync(join(base, 'idport-pg-'));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const data = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  mkdirSync(socketDir);
  if (isRoot()) {
    const { uid, gid } = userIds('postgres');
    for (const path of [dir, socketDir]) chownSync(path, uid, gid);
  }
  const onExit = () => destroySync(dir);
  process.once('exit', onExit);
  const exec = (bin: string, args: string[]) => {
    const [cmd, argv] = pgCommand(bin, args);
    return run(cmd, argv, { cwd: dir, timeout: 60_000 });
  };
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const tls = await makeCertificate(dir);
    // Two test runs side by side (CI) may pick the same free port: try another.
    for (let attempt = 1; ; attempt += 1) {
      const port = await freePort();
      const settings = () => [
        `-p ${port}`, `-k ${socketDir}`, "-c listen_addresses='127.0.0.1'",
        '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off',
        '-c shared_buffers=16MB', '-c max_connections=60',
        ...(tls ? ['-c ssl=on', `-c ssl_cert_file=${tls.cert}`, `-c ssl_key_file=${tls.key}`] : []),
      ].join(' ');
      const start = () => exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', settings(), 'start']);
      try {
        await start();
      } catch (err) {
        if (attempt < 4) continue;
        const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
        throw new Error(`pg_ctl start failed: ${(err as Error).message}\n${log}`);
      }
      const cluster = harness(`postgres://postgres@127.0.0.1:${port}/postgres`, `throwaway cluster (port ${port}, ${dir})`, async () => {
        process.off('exit', onExit);
        await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      }, tls?.cert);
      const outage = {
        // fast, not immediate: with synchronous_commit off a crash would lose the last commits
        begin: async () => void (await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'])),
        end: async () => void (await start()),
      };
      return { ...cluster, outage };
    }
  } catch (err) {
    process.off('exit', onExit);
    destroySync(dir);
    throw err;
  }
}

/** A self-signed EC certificate for localhost and 127.0.0.1, readable by the server only; undefined without openssl. */
async function makeCertificate(dir: string): Promise<{ cert: string; key: string } | undefined> {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
    ], { cwd: dir, timeout: 20_000 });
  } catch {
    return undefined;
  }
  chmodSync(key, 0o600);
  if (isRoot()) {
    const { uid, gid } = userIds('postgres');
    for (const path of [cert, key]) chownSync(path, uid, gid);
  }
  return { cert, key };
}

function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name} to run PostgreSQL as`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Why there is no PostgreSQL to test against, or undefined when there is one. */
export function postgresMissing(): string | undefined {
  if (process.env.POSTGRES_TEST_URL) return undefined;
  if (!existsSync(join(postgresBin, 'initdb')) || !existsSync(join(postgresBin, 'pg_ctl'))) {
    return `no PostgreSQL server binaries in ${postgresBin} (install postgresql-15, set POSTGRES_BIN, or set POSTGRES_TEST_URL=postgres://user:pass@host:5432/postgres)`;
  }
  return undefined;
}

export async function startPostgres(): Promise<TestPostgres | undefined> {
  if (process.env.POSTGRES_TEST_URL) {
    const url = process.env.POSTGRES_TEST_URL;
    return harness(url, `POSTGRES_TEST_URL (${new URL(url).host})`, async () => undefined);
  }
  if (postgresMissing()) return undefined;
  return startCluster();
}

/**
 * For a test file: a server started before its tests and stopped after them, or, when there is
 * none, one SKIPPED line and a skipped test (then undefined: the caller defines no tests).
 */
export function usePostgres(suite: string): TestPostgres | undefined {
  const why = postgresMissing();
  if (why) {
    process.stderr.write(`SKIPPED: ${suite}: ${why}\n`);
    test.skip(`${suite}: SKIPPED (${why})`, () => undefined);
    return undefined;
  }
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.stop(), 30_000);
  const started = () => {
    if (!server) throw new Error('PostgreSQL did not start (see beforeAll)');
    return server;
  };
  return {
    get origin() {
      return started().origin;
    },
    get tlsCert() {
      return started().tlsCert;
    },
    get outage() {
      return started().outage;
    },
    database: () => started().database(),
    schema: () => started().schema(),
    stop: () => started().stop(),
  };
}

/** Runs one statement (or several, without parameters) on a connection of its own. */
export async function pgQuery<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
