/**
 * PostgreSQL for `--store=postgres`: the server at --database-url (or BENCH_POSTGRES_URL), as a
 * user that may create databases; without one, a throwaway cluster of its own (initdb into a temp
 * folder, pg_ctl on a free port of 127.0.0.1, as the `postgres` user when run as root: the server
 * refuses root), with PostgreSQL's default, durable settings (fsync and synchronous_commit on),
 * stopped and removed at the end. Every idport run gets a new, empty database.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

const bin = process.env.POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

function pgRun(tool, args, cwd) {
  const path = join(bin, tool);
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  execFileSync(cmd, argv, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

async function query(url, text) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function throwawayCluster() {
  if (!existsSync(join(bin, 'initdb'))) throw new Error(`no PostgreSQL server binaries in ${bin}: give --database-url=postgres://… (or set POSTGRES_BIN)`);
  const dir = mkdtempSync(join(tmpdir(), 'idport-bench-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  mkdirSync(sock);
  if (asRoot) {
    const [, , uid, gid] = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))?.split(':') ?? [];
    if (uid === undefined) throw new Error('no postgres user to run PostgreSQL as');
    for (const path of [dir, sock]) chownSync(path, Number(uid), Number(gid));
  }
  const stop = () => {
    try {
      pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'], dir);
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  try {
    pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C'], dir);
    const port = await freePort();
    pgRun('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', `-p ${port} -k ${sock} -c listen_addresses='127.0.0.1'`, 'start'], dir);
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, origin: `a throwaway PostgreSQL cluster (${dir}, port ${port})`, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

let counter = 0;

/** The server to bench on: `database()` makes a new empty database and returns its URL and how to drop it. */
export async function benchPostgres(url = process.env.BENCH_POSTGRES_URL) {
  const server = url ? { url, origin: `the server at ${new URL(url).host}`, stop: () => undefined } : await throwawayCluster();
  return {
    origin: server.origin,
    async database() {
      const name = `idport_bench_${process.pid}_${(counter += 1)}`;
      await query(server.url, `CREATE DATABASE ${name}`);
      const u = new URL(server.url);
      u.pathname = `/${name}`;
      return { url: u.toString(), drop: () => query(server.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
    },
    stop: server.stop,
  };
}
