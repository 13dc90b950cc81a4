/**
 * `WORKERS=2 node dist/main.js`: one primary forking two cluster workers that share one port
 * (PORT=0: the primary binds one random port and every worker, replacements included, shares it).
 * One startup line; requests served; a worker killed with SIGKILL under load loses at most the
 * requests it was holding and is replaced while the other keeps serving; SIGTERM to the primary
 * drains everything and leaves no process behind.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

import { helperThreadsPerWorker } from '../../src/cluster.js';
import { mainScript, sleep, spawnIdport, stackLines, waitFor, type IdportProcess } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-workers-'));

let primary: ChildProcess | undefined;
/** every worker pid we have seen, so none can outlive the test */
const workerPids = new Set<number>();

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(() => {
  for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (primary && primary.exitCode === null && primary.signalCode === null) primary.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The primary's live children (`ps -o pid= --ppid`). */
function childPids(ppid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(ppid)], { encoding: 'utf8', timeout: 5000 })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** GET on a new connection each time (no keep-alive), so each request is dealt to a worker afresh. */
function healthz(origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(`${origin}/healthz`, { agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

const statuses = async (origin: string, n: number) => {
  const out: (number | string)[] = [];
  for (let i = 0; i < n; i += 1) out.push(await healthz(origin).catch((err: Error) => err.message));
  return out;
};


describe('WORKERS=2', () => {
  let proc: IdportProcess;
  let child: ChildProcess;
  const stdout = () => proc.stdout();
  const stderr = () => proc.stderr();
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  let pid: number;
  let url: string;
  let origin: string;
  let workers: number[];
  let victim: number;
  let survivor: number;
  const output = () => `\nstdout: ${stdout()}\nstderr: ${stderr()}`;

  test('one startup line naming 2 workers; both workers serve the shared port', async () => {
    proc = spawnIdport(mainScript, [], { env: { WORKERS: '2', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${join(dir, 'idport.db')}`, LOG_LEVEL: 'warn' } });
    child = proc.child;
    primary = child;
    exited = proc.exited;
    pid = child.pid!;

    url = await waitFor('the startup line', 15_000, () => /^idport is serving (\S+) \(/m.exec(stdout())?.[1], output);
    origin = new URL(url).origin;
    expect(new URL(url).hostname).toBe('127.0.0.1');
    expect(Number(new URL(url).port)).toBeGreaterThan(0);
    expect(stdout()).toMatch(/^idport is serving \S+ \(.*, 2 workers\)/m);

    workers = childPids(pid);
    expect(workers).toHaveLength(2);
    for (const w of workers) workerPids.add(w);
    // each worker's V8 pool is its share of the free cores (the last --v8-pool-size is Node's)
    for (const w of workers) {
      const flags = readFileSync(`/proc/${w}/cmdline`, 'utf8').split('\0').filter((f) => f.startsWith('--v8-pool-size'));
      expect(flags.at(-1)).toBe(`--v8-pool-size=${helperThreadsPerWorker(availableParallelism(), 2)}`);
    }

    const ok = await Promise.all(Array.from({ length: 20 }, () => healthz(origin)));
    expect(ok).toEqual(Array(20).fill(200));
    const disco = await fetch(`${origin}/.well-known/openid-configuration`);
    expect(((await disco.json()) as { issuer: string }).issuer).toBe(url);
    await sleep(300);
    expect(stdout().match(/idport is serving/g)).toHaveLength(1);
  });

  test('kill -9 of a worker under load: no request hangs (only ones it held may be reset), then all succeed', async () => {
    [victim, survivor] = workers as [number, number];
    // four clients in a loop, each request on a new connection, while the worker dies
    const results: (number | string)[] = [];
    let stop = false;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) results.push(await healthz(origin).catch((err: NodeJS.ErrnoException) => err.code ?? err.message));
    });
    await sleep(200);
    process.kill(victim, 'SIGKILL');
    const burst = await Promise.all(Array.from({ length: 4 }, () => healthz(origin).catch((err: NodeJS.ErrnoException) => err.code ?? err.message)));
    await waitFor('the primary to notice the dead worker', 5000, () => (new RegExp(`worker ${victim} exited`).test(stdout()) ? true : undefined), output);
    await sleep(300);
    stop = true;
    await Promise.all(clients);

    const failed = [...results, ...burst].filter((r) => r !== 200);
    // A request the killed worker had already taken is lost (the client sees a reset at once and
    // can retry). A connection that arrives after the kill must be served by the surviving worker,
    // never handed to the dead one and left hanging until the client gives up.
    expect(failed.filter((r) => !['ECONNRESET', 'socket hang up'].includes(String(r)))).toEqual([]);
    expect(results.filter((r) => r === 200).length).toBeGreaterThan(20);

    // once the primary knows, every request succeeds
    expect(await statuses(origin, 20)).toEqual(Array(20).fill(200));
  });

  test('the dead worker is replaced within a few seconds; the startup line is not repeated', async () => {
    const replaced = await waitFor('a replacement worker', 5000, () => {
      const now = childPids(pid);
      return now.length === 2 && !now.includes(victim) ? now : undefined;
    }, output);
    expect(replaced).toContain(survivor);
    const replacement = replaced.find((p) => p !== survivor)!;
    workerPids.add(replacement);
    // give the replacement time to listen; it must not crash (it would be logged and restarted again)
    await sleep(1000);
    expect(childPids(pid).sort()).toEqual(replaced.sort());
    expect(stdout()).not.toMatch(new RegExp(`worker ${replacement} exited`));
    expect(await statuses(origin, 20)).toEqual(Array(20).fill(200));
    expect(stdout().match(/idport is serving/g)).toHaveLength(1);
  });

  test('SIGTERM to the primary: exits 0 within 10 s and no worker remains', async () => {
    const sentAt = Date.now();
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      exited.finally(() => clearTimeout(timer)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the primary still runs 10 s after SIGTERM${output()}`)), 10_000);
      }),
    ]);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sentAt).toBeLessThan(10_000);
    expect(stdout()).toMatch(/SIGTERM received, draining 2 workers/);
    // no worker outlives the primary
    await waitFor('every worker to be gone', 2000, () => ([...workerPids].some(alive) ? undefined : true));
    expect(childPids(pid)).toEqual([]);
    expect(stackLines(stderr())).toEqual([]);
    // nothing on stderr but oidc-provider's Node version notice
    expect(stderr().split('\n').filter((l) => l.trim() && !l.includes('oidc-provider WARNING'))).toEqual([]);
  }, 15_000);
});

test('SIGTERM while the workers are still loading (before they listen): the primary exits 0, no worker remains', async () => {
  const proc = spawnIdport(mainScript, [], { env: { WORKERS: '2', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${join(dir, 'early.db')}`, LOG_LEVEL: 'warn' } });
  const pid = proc.child.pid!;
  const output = () => `\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`;
  // both workers forked: they are loading their modules now (hundreds of ms), with no SIGTERM handler yet
  const forked = await waitFor('two workers forked', 15_000, () => (childPids(pid).length === 2 ? childPids(pid) : undefined), output);
  for (const w of forked) workerPids.add(w);
  expect(proc.stdout()).not.toMatch(/idport is serving/);
  proc.child.kill('SIGTERM');
  const exit = await proc.exited;
  expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
  expect(proc.stdout()).toMatch(/SIGTERM received, draining 2 workers/);
  await waitFor('every worker to be gone', 2000, () => (forked.some(alive) ? undefined : true));
  expect(stackLines(proc.stderr())).toEqual([]);
}, 20_000);
