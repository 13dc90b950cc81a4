#!/usr/bin/env node
/**
 * idport WORKERS=1 against WORKERS=auto on the token endpoint (client_credentials, opaque token,
 * client_secret_basic). For each setting: `node dist/main.js` (with npm start's Node flags) as a
 * child on a fresh temporary SQLite store, 127.0.0.1 and a free port; a machine client added with
 * the CLI (`bin/idport.js clients add --grant-type client_credentials --json`) against the same
 * DATABASE_URL; 2 s warm-up; then autocannon for a bounded time. Reports req/s, p50/p99, failed
 * requests (any makes the exit status 1), the server's CPU (primary + workers, from /proc), peak
 * RSS per worker (VmHWM), this load generator's own CPU, then SIGTERMs the server and checks that
 * every one of its processes exited. See bench/README.md ("Workers").
 *
 *   node bench/workers.mjs                 10 s measured per setting (about 30 s in all)
 *   node bench/workers.mjs --quick         4 s measured per setting (about 15 s in all)
 *   options: --duration=S  --connections=N (default 32)  --json=FILE
 *
 * Run `npm run build` first (`npm run bench:workers` does): the server is dist/main.js.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';

import autocannon from 'autocannon';

import { benchCli, root, startFlags } from './lib/cli.mjs';
import { fmt, table } from './lib/stats.mjs';

const { args, usage } = benchCli({
  script: import.meta.url,
  name: 'bench:workers',
  dist: 'dist/main.js',
  npmScript: 'bench:workers',
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    connections: { type: 'string' },
    json: { type: 'string' },
  },
});

const warmup = 2;
const duration = Number(args.duration ?? (args.quick ? 4 : 10));
const connections = Number(args.connections ?? 32);
if (!(duration > 0 && duration <= 60)) usage('--duration must be 1..60 seconds');
if (!(Number.isInteger(connections) && connections > 0 && connections <= 1000)) usage('--connections must be 1..1000');
const cores = os.availableParallelism?.() ?? os.cpus().length;
const settings = ['1', 'auto'];

// A last-resort bound on the whole run, whatever happens to a server under test.
const hardLimitSeconds = 60 + settings.length * (warmup + duration + 30);
setTimeout(() => {
  process.stderr.write(`bench:workers: still running after ${hardLimitSeconds} s; giving up\n`);
  process.exit(1);
}, hardLimitSeconds * 1000).unref();

const log = (msg) => process.stderr.write(`${msg}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;

// ---------------------------------------------------------------------------------------------
// /proc (Linux): CPU seconds, peak RSS, the process tree.

let tick = 100;
try {
  tick = Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
} catch {
  // keep 100, Linux's usual USER_HZ
}

function readProc(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** { ppid, state, cpu seconds (utime + stime, all threads) } of one process, or undefined. */
function stat(pid) {
  const text = readProc(`/proc/${pid}/stat`);
  if (!text) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / tick };
}

const alive = (pid) => {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
};

/** Direct children of a process (cluster workers of the primary). */
function childrenOf(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s?.ppid === pid && s.state !== 'Z') out.push(Number(name));
  }
  return out.sort((a, b) => a - b);
}

/** Busy CPU seconds of the whole machine. */
function machineBusy() {
  const line = readProc('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return undefined;
  const [user, nice, system, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / tick;
}

/**
 * Established TCP connections to 127.0.0.1:port held by each process, by matching the socket
 * inodes of its open files against /proc/net/tcp: how the kernel spread the load generator's
 * connections over the workers.
 */
function connectionsHeld(pids, port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set();
  for (const line of (readProc('/proc/net/tcp') ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === '01') inodes.add(f[9]);
  }
  return pids.map((pid) => {
    let n = 0;
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m && inodes.has(m[1])) n += 1;
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      return NaN;
    }
    return n;
  });
}

const vm = (pid, field) => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readProc(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) * 1024 : undefined;
};

/** Resets VmHWM to the current RSS (Linux ≥ 4.0; we own these processes). */
const resetPeak = (pid) => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------------------------------------
// Child processes.

function run(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: 30_000, maxBuffer: 1 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A small, fixed environment: nothing inherited can change idport's configuration. */
const baseEnv = () => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? os.tmpdir(),
  TMPDIR: os.tmpdir(),
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
});

const live = new Set(); // servers still running: killed if this process exits early
const tempDirs = new Set(); // their stores: removed then too
process.on('exit', () => {
  for (const server of live) server.kill();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

async function startServer(workers, databaseUrl, startTimeoutMs = 30_000) {
  const port = await freePort();
  const child = spawn(process.execPath, [...startFlags, join(root, 'dist/main.js')], {
    cwd: root,
    env: { ...baseEnv(), DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: String(port), WORKERS: workers },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  let exited;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exited = { code, signal }))));
  const server = {
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output.join(''),
    get exited() {
      return exited;
    },
    exit,
    workerPids: [],
    kill() {
      for (const pid of server.workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      if (!exited) child.kill('SIGKILL');
    },
  };
  live.add(server);
  let stdout = '';
  const announced = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`WORKERS=${workers}: no start-up line within ${startTimeoutMs} ms\n${server.output()}`)), startTimeoutMs);
    child.stdout.on('data', (chunk) => {
      output.push(String(chunk));
      stdout += String(chunk);
      const m = /idport is serving (\S+) \(/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`WORKERS=${workers}: server exited (${code ?? signal}) before it was serving:\n${server.output()}`));
    });
  });
  child.stderr.on('data', (chunk) => output.push(String(chunk)));
  server.announcedUrl = await announced;
  if (!server.announcedUrl.endsWith(`:${port}`)) throw new Error(`WORKERS=${workers}: announced ${server.announcedUrl}, expected port ${port}`);
  server.workerPids = childrenOf(child.pid);
  const expected = workers === 'auto' ? cores : Number(workers);
  if (expected > 1 && server.workerPids.length !== expected) {
    throw new Error(`WORKERS=${workers}: expected ${expected} worker processes, found ${server.workerPids.length}`);
  }
  return server;
}

/** SIGTERM the primary; true when it exited 0 within 10 s and none of its workers is left. */
async function stopServer(server) {
  const workers = [...server.workerPids];
  process.kill(server.pid, 'SIGTERM');
  let timer;
  const result = await Promise.race([server.exit, new Promise((resolve) => (timer = setTimeout(() => resolve(undefined), 10_000)))]);
  clearTimeout(timer);
  const deadline = performance.now() + 5000;
  while (workers.some(alive) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const leftover = workers.filter(alive);
  const clean = result !== undefined && result.code === 0 && leftover.length === 0;
  const detail = result === undefined ? 'did not exit within 10 s of SIGTERM' : `exit ${result.code ?? result.signal}`;
  server.kill();
  live.delete(server);
  return { clean, detail: `${detail}${leftover.length ? `, workers still running: ${leftover.join(' ')}` : ''}` };
}

/** A machine client through the CLI, against the same DATABASE_URL, while the server runs. */
async function seedClient(databaseUrl) {
  const { stdout } = await run(process.execPath, [join(root, 'bin/idport.js'), 'clients', 'add', '--name', 'bench-workers-m2m', '--grant-type', 'client_credentials', '--json'], {
    cwd: root,
    env: { ...baseEnv(), DATABASE_URL: databaseUrl },
  });
  const line = stdout.split('\n').find((l) => l.trim().startsWith('{'));
  const client = line ? JSON.parse(line) : {};
  if (!client.client_id || !client.client_secret) throw new Error(`clients add printed no client_id/client_secret: ${stdout.slice(0, 300)}`);
  return client;
}

/** One POST on its own connection, closed afterwards (so it is not counted among the load's). */
function post(url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, connection: 'close' }, agent: false, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${url}: no answer within 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const basicAuth = ({ client_id, client_secret }) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client_id)}:${encodeURIComponent(client_secret)}`).toString('base64')}`;

// ---------------------------------------------------------------------------------------------
// One setting.

async function load(url, request, seconds) {
  const result = await autocannon({ url, connections, duration: seconds, timeout: 10, requests: [request] });
  const errors = result.errors + result.timeouts + result.non2xx;
  return {
    rps: result['2xx'] / result.duration,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    total: result.requests.total,
    errors,
    errorDetail: errors ? `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx} (${JSON.stringify(result.statusCodeStats)})` : '',
  };
}

async function measure(workers) {
  const dir = mkdtempSync(join(os.tmpdir(), 'idport-bench-workers-'));
  tempDirs.add(dir);
  const databaseUrl = `sqlite:${join(dir, 'idport.db')}`;
  let server;
  try {
    server = await startServer(workers, databaseUrl);
    const client = await seedClient(databaseUrl);
    const request = {
      method: 'POST',
      path: '/token',
      headers: { authorization: basicAuth(client), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    };
    // One request checked for meaning: an opaque (not JWT) bearer token.
    const res = await post(`${server.url}${request.path}`, request.headers, request.body);
    let token = {};
    try {
      token = JSON.parse(res.body);
    } catch {
      // reported below
    }
    if (res.status !== 200 || token.token_type !== 'Bearer' || typeof token.access_token !== 'string' || token.access_token.split('.').length === 3) {
      throw new Error(`POST /token answered ${res.status} ${res.body.slice(0, 300)}; expected an opaque Bearer token`);
    }

    await load(server.url, request, warmup);

    // Measured window. Processes: the primary and, with cluster workers, each worker.
    const pids = [server.pid, ...server.workerPids];
    const workerPids = server.workerPids.length ? server.workerPids : [server.pid];
    const hwm = pids.every(resetPeak);
    const cpu0 = pids.map((pid) => stat(pid)?.cpu);
    const self0 = stat(process.pid)?.cpu;
    const busy0 = machineBusy();
    const t0 = performance.now();
    // Halfway through, which worker holds how many of the load generator's connections.
    let spread;
    const sampler = setTimeout(() => (spread = connectionsHeld(workerPids, server.port)), (duration * 1000) / 2);
    const result = await load(server.url, request, duration);
    clearTimeout(sampler);
    const secs = (performance.now() - t0) / 1000;
    const cpu1 = pids.map((pid) => stat(pid)?.cpu);
    const self1 = stat(process.pid)?.cpu;
    const busy1 = machineBusy();
    const peak = (pid) => (hwm ? vm(pid, 'VmHWM') : vm(pid, 'VmRSS'));

    const perProcess = pids.map((pid, i) => (cpu0[i] !== undefined && cpu1[i] !== undefined ? cpu1[i] - cpu0[i] : NaN));
    const serverSeconds = perProcess.reduce((a, b) => a + b, 0);
    const loadgen = self0 !== undefined && self1 !== undefined ? (self1 - self0) / secs : NaN;
    const all = busy0 !== undefined && busy1 !== undefined ? (busy1 - busy0) / secs : NaN;
    const sameWorkers = childrenOf(server.pid).join(' ') === server.workerPids.join(' ');
    Object.assign(result, {
      workers,
      processes: pids.length,
      workerCount: workerPids.length,
      server: serverSeconds / secs,
      perProcess: perProcess.map((s) => s / secs), // primary first
      cpuMsPerOp: result.ok ? (serverSeconds * 1000) / result.ok : NaN,
      loadgen,
      other: Math.max(0, all - serverSeconds / secs - loadgen),
      workerRss: workerPids.map(peak),
      primaryRss: server.workerPids.length ? peak(server.pid) : undefined,
      hwm,
      sameWorkers,
      spread: spread ?? [],
    });
    if (result.errors) result.serverOutput = server.output().slice(-2000);
    if (server.exited) throw new Error(`WORKERS=${workers}: the server exited during the run:\n${server.output().slice(-2000)}`);
    result.stop = await stopServer(server);
    return result;
  } catch (err) {
    return { workers, failed: `${err.message}${server ? `\n--- server output ---\n${server.output().slice(-2000)}` : ''}` };
  } finally {
    server?.kill();
    if (server) live.delete(server);
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

// ---------------------------------------------------------------------------------------------

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.type()} ${os.release()}`,
  node: process.version,
  autocannon: JSON.parse(readFileSync(join(root, 'node_modules/autocannon/package.json'), 'utf8')).version,
  date: new Date().toISOString(),
  commit: await (async () => {
    if (process.env.BENCH_IDPORT_REV) return process.env.BENCH_IDPORT_REV;
    try {
      const sha = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).stdout.trim();
      const dirty = (await run('git', ['status', '--porcelain', '--', 'src'], { cwd: root })).stdout.trim();
      return dirty ? `${sha} (+ uncommitted changes in src/)` : sha;
    } catch {
      return 'unknown (not a git checkout; set BENCH_IDPORT_REV)';
    }
  })(),
};

log(`bench:workers: WORKERS=1 vs WORKERS=auto (${cores}) on POST /token, ${connections} connections, ${warmup} s warm-up + ${duration} s measured each`);
const results = [];
for (const workers of settings) {
  log(`bench:workers: [${elapsed()}] WORKERS=${workers}…`);
  const r = await measure(workers);
  results.push(r);
  if (r.failed) log(`bench:workers:   FAILED: ${r.failed}`);
  else {
    log(
      `bench:workers:   ${fmt(r.rps)} req/s, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, ${r.errors}/${r.total} failed; ` +
        `CPU cores: server ${fmt(r.server, 2)} (${r.perProcess.map((c) => fmt(c, 2)).join(' + ')}), load generator ${fmt(r.loadgen, 2)}, ` +
        `other ${fmt(r.other, 2)}; connections per worker ${r.spread.join(' + ')}; ${fmt(r.seconds, 2)} s; stop: ${r.stop.detail} ${r.errorDetail}`,
    );
  }
}

const mb = (b) => fmt(b / 2 ** 20);
const totalRss = (r) => r.workerRss.reduce((a, b) => a + b, 0) + (r.primaryRss ?? 0);
const cell = (r, f) => (r.failed ? 'FAILED' : f(r));
const rows = results.map((r) => [
  `WORKERS=${r.workers}${r.workers === 'auto' && !r.failed ? ` (${r.workerCount})` : ''}`,
  cell(r, (x) => fmt(x.rps)),
  cell(r, (x) => fmt(x.p50, 1)),
  cell(r, (x) => fmt(x.p99, 1)),
  cell(r, (x) => `${x.errors}/${x.total}`),
  cell(r, (x) => fmt(x.server, 2)),
  cell(r, (x) => (x.processes > 1 ? `${fmt(x.perProcess[0], 2)} + ${x.perProcess.slice(1).map((c) => fmt(c, 2)).join(' + ')}` : fmt(x.perProcess[0], 2))),
  cell(r, (x) => x.spread.join(' + ') || '–'),
  cell(r, (x) => fmt(x.cpuMsPerOp, 3)),
  cell(r, (x) => fmt(x.loadgen, 2)),
  cell(r, (x) => fmt(x.other, 2)),
  cell(r, (x) => x.workerRss.map(mb).join(', ')),
  cell(r, (x) => (x.primaryRss ? mb(x.primaryRss) : '–')),
  cell(r, (x) => mb(totalRss(x))),
]);
const [one, auto] = results;
const ratio = (f, digits = 2) => (one.failed || auto.failed ? '–' : fmt(f(auto) / f(one), digits));
rows.push([
  'ratio auto/1',
  ratio((r) => r.rps),
  ratio((r) => r.p50),
  ratio((r) => r.p99),
  '',
  ratio((r) => r.server),
  '',
  '',
  ratio((r) => r.cpuMsPerOp),
  ratio((r) => r.loadgen),
  '',
  ratio((r) => Math.max(...r.workerRss)),
  '',
  ratio(totalRss),
]);

const out = [];
out.push(`idport WORKERS=1 vs WORKERS=auto — POST /token (client_credentials, opaque token, client_secret_basic)${args.quick ? ', quick run (--quick)' : ''}`);
out.push('');
out.push(`- machine: ${machine.cpu}, ${machine.cores} cores (WORKERS=auto = ${cores} workers), ${machine.memoryGiB} GiB, ${machine.platform}`);
out.push(`- Node ${machine.node}, autocannon ${machine.autocannon}, idport ${machine.commit}`);
out.push(`- date: ${machine.date}`);
out.push(
  `- server: node ${[...startFlags, 'dist/main.js'].join(' ')} (as npm start), fresh temp SQLite store, NODE_ENV=production, LOG_LEVEL=warn, 127.0.0.1; client added with \`idport clients add --grant-type client_credentials\`; ` +
    `load: autocannon in this process, ${connections} connections, keep-alive, ${warmup} s warm-up + ${duration} s measured per setting`,
);
out.push('');
out.push(
  table(
    ['setting', 'req/s', 'p50 ms', 'p99 ms', 'failed/requests', 'server CPU cores', 'primary + workers', 'connections per worker', 'server CPU ms/req', 'loadgen CPU cores', 'other CPU cores', 'peak RSS MB per worker', 'primary RSS MB', 'all processes RSS MB'],
    rows,
  ),
);
out.push(
  '(CPU: cores used on average over the measured run, from /proc utime+stime; "server" sums the primary and every worker. ' +
    `Peak RSS: VmHWM${results.every((r) => r.failed || r.hwm) ? ', reset at the start of the measured run' : ' (could not be reset: peak since start)'}; ` +
    '"all processes" sums the peaks of the primary and every worker.)',
);
const measured = results.filter((r) => !r.failed);
if (measured.length) {
  const maxLoadgen = Math.max(...measured.map((r) => r.loadgen));
  const autoRow = measured.find((r) => r.workers === 'auto');
  out.push('');
  out.push(
    `Load generator: autocannon used up to ${fmt(maxLoadgen, 2)} of this machine's ${cores} cores` +
      (autoRow
        ? `; with WORKERS=auto the ${autoRow.workerCount} workers, the primary and the load generator share ${cores} cores ` +
          `(server ${fmt(autoRow.server, 2)} + load generator ${fmt(autoRow.loadgen, 2)} + other ${fmt(autoRow.other, 2)} cores): ` +
          `the load generator competes with the workers for CPU, so auto/1 here understates what workers give when clients come from other machines.`
        : '.'),
  );
  const disturbed = measured.filter((r) => r.other > 0.25).map((r) => `WORKERS=${r.workers} (${fmt(r.other, 2)} cores)`);
  if (disturbed.length) out.push(`WARNING: other processes used more than a quarter of a core during ${disturbed.join(', ')}; rerun on a quiet machine.`);
  // idport's cluster uses SCHED_NONE: each worker accepts from the shared socket itself, and the
  // first to wake up may take every connection the load generator opens at once.
  const idle = measured.filter((r) => {
    const workerCpu = r.processes > 1 ? r.perProcess.slice(1) : [];
    return workerCpu.length > 1 && (Math.min(...r.spread) === 0 || Math.min(...workerCpu) < Math.max(...workerCpu) / 4);
  });
  for (const r of idle) {
    out.push(
      `WARNING: WORKERS=${r.workers}: the kernel spread the ${connections} keep-alive connections ${r.spread.join(' + ')} over the workers ` +
        `(worker CPU ${r.perProcess.slice(1).map((c) => fmt(c, 2)).join(' + ')} cores): a worker sat (nearly) idle, so this run shows less than ` +
        'the workers can give (idport\'s cluster uses SCHED_NONE: each worker accepts from the shared socket itself). Run again for another spread.',
    );
  }
  const restarted = measured.filter((r) => !r.sameWorkers).map((r) => `WORKERS=${r.workers}`);
  if (restarted.length) out.push(`WARNING: the set of worker processes changed during ${restarted.join(', ')} (a worker died and was restarted).`);
  out.push(`Shutdown: ${measured.map((r) => `WORKERS=${r.workers} ${r.stop.clean ? `exited on SIGTERM (${r.stop.detail}, no worker left)` : `NOT clean (${r.stop.detail})`}`).join('; ')}.`);
}
process.stdout.write(`\n${out.join('\n')}\n`);

if (args.json) writeFileSync(args.json, `${JSON.stringify({ machine, connections, warmup, duration, results }, null, 2)}\n`);

const problems = results.flatMap((r) => {
  if (r.failed) return [`WORKERS=${r.workers}: ${r.failed}`];
  const p = [];
  if (r.errors) p.push(`WORKERS=${r.workers}: ${r.errors} of ${r.total} requests failed (${r.errorDetail})${r.serverOutput ? `\n${r.serverOutput}` : ''}`);
  if (!r.stop.clean) p.push(`WORKERS=${r.workers}: shutdown on SIGTERM ${r.stop.detail}`);
  return p;
});
if (problems.length) {
  process.stderr.write(`\nbench:workers: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
log(`bench:workers: done in ${elapsed()}`);
process.exit(0);
