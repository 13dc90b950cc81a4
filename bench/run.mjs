#!/usr/bin/env node
/**
 * idport benchmark: each scenario against idport (dist/, fresh SQLite store) and against a bare
 * oidc-provider BASELINE with an equivalent configuration, each server in its own process, load
 * from this process on 127.0.0.1 only, every run bounded in time. See bench/README.md.
 *
 *   node bench/run.mjs                 full run (~5 minutes)
 *   node bench/run.mjs --quick         smoke run (~1 minute)
 *   node bench/run.mjs --self-check    every scenario ~1 s; exit 1 if any request failed
 *   options: --only=id,id  --connections=N  --vus=N  --profile=ID  --json=FILE
 *            --quiet-wait=S  wait up to S seconds in all (default 60 full, 0 otherwise) for
 *                            other processes to go quiet before each measured run
 *            --records=N     before each scenario, fill idport's store with N live sessions, N grants
 *                            and N access tokens of other users (default 0: an empty store)
 *
 * Run `npm run build` first (`npm run bench` does): idport is imported from dist/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';

import autocannon from 'autocannon';

import { startChild } from './lib/child.mjs';
import { benchCli, root } from './lib/cli.mjs';
import { cpuWindow, machineBusy } from './lib/cpu.mjs';
import { topSelfTime } from './lib/cpuprofile.mjs';
import { codeFlow } from './lib/flow.mjs';
import { scenarios } from './lib/scenarios.mjs';
import { fmt, median, percentile, table } from './lib/stats.mjs';

const { args, usage } = benchCli({
  script: import.meta.url,
  name: 'bench',
  dist: 'dist/server.js',
  npmScript: 'bench',
  options: {
    quick: { type: 'boolean', default: false },
    'self-check': { type: 'boolean', default: false },
    only: { type: 'string' },
    connections: { type: 'string' },
    vus: { type: 'string' },
    profile: { type: 'string' },
    json: { type: 'string' },
    'quiet-wait': { type: 'string' },
    records: { type: 'string' },
  },
});

/** Seconds per phase. Each measured run is bounded by its duration; nothing runs open-ended. */
const modes = {
  full: { warmup: 3, duration: 10, flowWarmup: 3, flowDuration: 20, argonSamples: 15, argonAllCores: 4 },
  quick: { warmup: 1, duration: 2, flowWarmup: 1, flowDuration: 3, argonSamples: 6, argonAllCores: 1.5 },
  selfCheck: { warmup: 0, duration: 1, flowWarmup: 0, flowDuration: 1, argonSamples: 2, argonAllCores: 0.5 },
};
const modeName = args['self-check'] ? 'selfCheck' : args.quick ? 'quick' : 'full';
const mode = modes[modeName];
const connections = Number(args.connections ?? 10);
const vus = Number(args.vus ?? 4);
const cores = os.availableParallelism?.() ?? os.cpus().length;
const records = Number(args.records ?? 0);
if (!(Number.isInteger(records) && records >= 0 && records <= 1_000_000)) usage('--records must be an integer 0..1000000');
let quietBudget = Number(args['quiet-wait'] ?? (modeName === 'full' ? 60 : 0));

/** Waits (within the run's budget) until other processes use less than a quarter of a core. */
async function waitForQuiet() {
  while (quietBudget > 0) {
    const busy = await machineBusy(1000);
    quietBudget -= 1;
    if (busy === undefined || busy < 0.25) return;
  }
}

const only = args.profile ? [args.profile] : args.only?.split(',').map((s) => s.trim()).filter(Boolean);
const selected = only ? scenarios.filter((s) => only.includes(s.id)) : scenarios;
if (only && selected.length !== only.length) usage(`unknown scenario in ${only.join(',')}; known: ${scenarios.map((s) => s.id).join(', ')}`);

// A last-resort bound on the whole run, whatever happens to a server under test.
const hardLimitSeconds = { full: 15 * 60, quick: 5 * 60, selfCheck: 3 * 60 }[modeName] + (args['quiet-wait'] ? Number(args['quiet-wait']) : 0);
setTimeout(() => {
  process.stderr.write(`bench: still running after ${hardLimitSeconds} s; giving up\n`);
  process.exit(1);
}, hardLimitSeconds * 1000).unref();

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill();
});
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const log = (msg) => process.stderr.write(`${msg}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;

/** One autocannon run; request bodies, when several, are handed out round-robin. */
async function load(url, spec, seconds, rate) {
  let next = 0;
  const bodies = spec.bodies ?? [];
  const request = { method: spec.method, path: spec.path, headers: spec.headers ?? {} };
  if (bodies.length === 1) request.body = bodies[0];
  if (bodies.length > 1) request.setupRequest = (req) => ({ ...req, body: bodies[next++ % bodies.length] });
  let mismatches = 0;
  if (spec.expectBody !== undefined) {
    request.onResponse = (status, body) => {
      if (status >= 200 && status < 300 && body !== spec.expectBody) mismatches += 1;
    };
  }
  const result = await autocannon({ url, connections, duration: seconds, timeout: 10, requests: [request], ...(rate ? { overallRate: rate } : {}) });
  const ok = result['2xx'] - mismatches;
  const errors = result.errors + result.timeouts + result.non2xx + mismatches;
  return {
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    errors,
    errorDetail: errors
      ? `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}, unexpected bodies ${mismatches} (${JSON.stringify(result.statusCodeStats)})`
      : '',
  };
}

/** Virtual users each running whole sign-ins back to back until the deadline. */
async function flows(url, seconds) {
  const latencies = [];
  let errors = 0;
  let firstError;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: vus }, async () => {
      while (performance.now() < deadline && errors < 20) {
        const s = performance.now();
        try {
          await codeFlow(url);
          latencies.push(performance.now() - s);
        } catch (err) {
          errors += 1;
          firstError ??= err;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / secs,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    total: latencies.length + errors,
    errors,
    errorDetail: firstError ? `first error: ${firstError.message}` : '',
  };
}

/**
 * argon2id verifies at idport's parameters, with idport's own code: the time of one alone, and
 * how many per second the machine does with every core hashing (`cores` callers back to back for
 * `allCoresSecs`). That rate is the ceiling: the most sign-ins/s if the machine did nothing but
 * hash. It is lower than cores ÷ one hash's time: hashes running at once share memory bandwidth
 * and caches (each touches 19 MiB).
 */
async function measureArgon2(samples, allCoresSecs) {
  const { createPasswords } = await import(join(root, 'dist/accounts/password.js'));
  const passwords = createPasswords({ maxQueued: 1024 });
  const verifyPassword = (h, p) => passwords.verify(h, p);
  const hash = await passwords.hash('correct horse battery staple');
  if (!hash.includes('m=19456,t=2,p=1')) log(`bench: note: idport's argon2 parameters changed: ${hash.split('$').slice(1, 4).join('$')}`);
  for (let i = 0; i < 2; i += 1) await verifyPassword(hash, 'correct horse battery staple');
  const times = [];
  for (let i = 0; i < samples; i += 1) {
    const s = performance.now();
    if (!(await verifyPassword(hash, 'correct horse battery staple'))) throw new Error('argon2 verify failed');
    times.push(performance.now() - s);
  }
  const ms = median(times);
  let verifies = 0;
  const started = performance.now();
  const until = started + allCoresSecs * 1000;
  await Promise.all(
    Array.from({ length: cores }, async () => {
      while (performance.now() < until) {
        if (!(await verifyPassword(hash, 'correct horse battery staple'))) throw new Error('argon2 verify failed');
        verifies += 1;
      }
    }),
  );
  const ceiling = (verifies * 1000) / (performance.now() - started);
  return { ms, params: hash.split('$')[3], ceiling, perfectScaling: (cores * 1000) / ms };
}

async function runOne(scenario, kind) {
  const profiling = args.profile === scenario.id;
  let child;
  try {
    child = await startChild(kind, { env: { ...(scenario.env?.[kind] ?? {}), BENCH_RECORDS: String(records) } });
  } catch (err) {
    return { failed: err.message };
  }
  live.add(child);
  try {
    if (scenario.requires && !child.features[scenario.requires.feature]) {
      await child.stop();
      return { na: scenario.requires.otherwise };
    }
    const spec = await scenario.prepare(child.url);
    const run = (seconds) => (scenario.flow ? flows(child.url, seconds) : load(child.url, spec, seconds));
    const warmup = scenario.flow ? mode.flowWarmup : mode.warmup;
    await waitForQuiet();
    if (warmup) await run(warmup);
    child.resetPeak();
    if (profiling) await child.request({ type: 'profile-start' }, 'profile-started');
    const endCpu = cpuWindow(child.pid);
    const result = await run(scenario.flow ? mode.flowDuration : mode.duration);
    result.cpu = endCpu();
    // CPU time the server spent per successful request (or sign-in): far less sensitive to other
    // load on the machine than req/s, since it does not count time the server was not running.
    const ok = result.total - result.errors;
    result.cpuMsPerOp = result.cpu.serverSeconds !== undefined && ok ? (result.cpu.serverSeconds * 1000) / ok : undefined;
    if (profiling) {
      const dir = join(root, 'bench/profiles');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${kind}-${scenario.id}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      await child.request({ type: 'profile-stop', file }, 'profile-written');
      result.profile = { file, ...topSelfTime(file) };
    }
    result.rss = await child.peakRss();
    // Latency where a service should run: at half the rate just measured, paced (idport only).
    if (kind === 'idport' && !scenario.flow && !profiling && result.rps > 0 && !result.errors) {
      const paced = await load(child.url, spec, mode.duration, Math.max(1, Math.round(result.rps / 2)));
      result.halfPeak = { rate: Math.round(result.rps / 2), p50: paced.p50, p99: paced.p99, errors: paced.errors };
      result.errors += paced.errors;
      result.total += paced.total;
    }
    if (child.exited) throw new Error(`${kind} exited during the run:\n${child.output()}`);
    if (result.errors) result.serverOutput = child.output().slice(-2000);
    await child.stop();
    return result;
  } catch (err) {
    return { failed: `${err.message}${child.output() ? `\n--- ${kind} output ---\n${child.output().slice(-2000)}` : ''}` };
  } finally {
    child.kill();
    live.delete(child);
  }
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.type()} ${os.release()}`,
  date: new Date().toISOString(),
  oidcProvider: JSON.parse(readFileSync(join(root, 'node_modules/oidc-provider/package.json'), 'utf8')).version,
  autocannon: JSON.parse(readFileSync(join(root, 'node_modules/autocannon/package.json'), 'utf8')).version,
  commit: (() => {
    if (process.env.BENCH_IDPORT_REV) return process.env.BENCH_IDPORT_REV;
    try {
      const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
      return dirty ? `${sha} (+ uncommitted changes in src/)` : sha;
    } catch {
      return 'unknown (not a git checkout; set BENCH_IDPORT_REV)';
    }
  })(),
};

log(`bench: ${modeName} run, ${selected.length} scenario(s), ${connections} connections, ${vus} virtual users for the code flow`);
const argon2 = await measureArgon2(mode.argonSamples, mode.argonAllCores);
log(`bench: argon2id verify ${argon2.ms.toFixed(1)} ms alone (${argon2.params}); all ${cores} cores hashing: ${argon2.ceiling.toFixed(1)}/s = the ceiling`);

const results = [];
for (const scenario of selected) {
  const row = { id: scenario.id, name: scenario.name, flow: !!scenario.flow };
  for (const kind of ['idport', 'baseline']) {
    log(`bench: [${elapsed()}] ${scenario.id} on ${kind}…`);
    row[kind] = await runOne(scenario, kind);
    const r = row[kind];
    if (r.failed) log(`bench:   FAILED: ${r.failed}`);
    else if (r.na) log(`bench:   ${r.na}`);
    else {
      log(
        `bench:   ${fmt(r.rps, 1)} ${scenario.flow ? 'flows' : 'req'}/s, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, ` +
          `peak RSS ${fmt(r.rss / 2 ** 20)} MB, ${r.total} requests, ${r.errors} errors; CPU cores: server ${fmt(r.cpu.server, 2)}, ` +
          `load generator ${fmt(r.cpu.loadgen, 2)}, other processes ${fmt(r.cpu.other, 2)} ${r.errorDetail}`,
      );
    }
  }
  results.push(row);
}

const cell = (r, f) => (r.failed ? 'FAILED' : r.na ? 'n/a' : f(r));
const rows = results.map((row) => {
  const i = row.idport;
  const b = row.baseline;
  const unit = row.flow ? ' (flows/s)' : '';
  const ratio = !i.failed && !i.na && !b.failed && !b.na && b.rps ? `${(i.rps / b.rps).toFixed(2)}` : i.na ? i.na : '–';
  return [
    `${row.id}${unit}`,
    cell(i, (r) => fmt(r.rps, row.flow ? 1 : 0)),
    cell(i, (r) => fmt(r.p50, 1)),
    cell(i, (r) => fmt(r.p99, 1)),
    cell(i, (r) => (r.halfPeak ? `${fmt(r.halfPeak.p99, 1)} (${fmt(r.halfPeak.rate)}/s)` : '–')),
    cell(i, (r) => fmt(r.rss / 2 ** 20)),
    cell(b, (r) => fmt(r.rps, row.flow ? 1 : 0)),
    ratio,
  ];
});
const cpuCell = (r) => cell(r, ({ cpu }) => `${fmt(cpu.server, 2)} / ${fmt(cpu.loadgen, 2)} / ${fmt(cpu.other, 2)}`);
const detailRows = results.map((row) => [
  row.id,
  cell(row.baseline, (r) => fmt(r.p50, 1)),
  cell(row.baseline, (r) => fmt(r.p99, 1)),
  cell(row.baseline, (r) => fmt(r.rss / 2 ** 20)),
  cell(row.idport, (r) => fmt(r.cpuMsPerOp, row.flow ? 1 : 3)),
  cell(row.baseline, (r) => fmt(r.cpuMsPerOp, row.flow ? 1 : 3)),
  cpuCell(row.idport),
  cpuCell(row.baseline),
  cell(row.idport, (r) => `${r.errors}/${r.total}`),
  cell(row.baseline, (r) => `${r.errors}/${r.total}`),
]);
const disturbed = results.flatMap((row) =>
  ['idport', 'baseline'].filter((k) => (row[k].cpu?.other ?? 0) > 0.25).map((k) => `${row.id} on ${k} (${fmt(row[k].cpu.other, 2)} cores)`),
);

const flowRow = results.find((r) => r.flow);
const out = [];
out.push(`idport benchmark — ${modeName === 'full' ? 'full run' : modeName === 'quick' ? 'quick run (--quick)' : 'self-check (--self-check)'}`);
out.push('');
out.push(`- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}`);
out.push(`- Node ${machine.node}, oidc-provider ${machine.oidcProvider}, autocannon ${machine.autocannon}, idport ${machine.commit}`);
out.push(`- date: ${machine.date}`);
out.push(
  `- load: ${connections} connections (autocannon, keep-alive, same machine), ${mode.warmup} s warm-up + ${mode.duration} s measured per server; ` +
    `code flow: ${vus} virtual users, ${mode.flowWarmup} s warm-up + ${mode.flowDuration} s measured`,
);
out.push(
  `- argon2id verify (idport's createPasswords().hash/verify, ${argon2.params}): ${argon2.ms.toFixed(1)} ms alone; ` +
    `with all ${cores} cores hashing ${argon2.ceiling.toFixed(1)} verifies/s = the ceiling (${cores} cores ÷ ${argon2.ms.toFixed(1)} ms would be ${argon2.perfectScaling.toFixed(1)}/s)`,
);
out.push('');
out.push(table(['scenario', 'idport req/s', 'p50 ms', 'p99 ms', 'p99 ms at ½ peak', 'peak RSS MB', 'baseline req/s', 'ratio idport/baseline'], rows));
out.push('');
out.push(
  table(
    ['scenario', 'baseline p50 ms', 'baseline p99 ms', 'baseline peak RSS MB', 'idport CPU ms/op', 'baseline CPU ms/op', 'idport CPU server/loadgen/other', 'baseline CPU server/loadgen/other', 'idport errors/requests', 'baseline errors/requests'],
    detailRows,
  ),
);
out.push(
  '(CPU ms/op: server CPU time per successful request, or per sign-in for the code flow. CPU server/loadgen/other: cores, averaged over ' +
    'the measured run, used by the server under test, by this load generator, and by every other process on the machine.)',
);
if (disturbed.length) {
  out.push(`WARNING: other processes used more than a quarter of a core during: ${disturbed.join('; ')}. Those numbers are disturbed; rerun on a quiet machine.`);
}
if (flowRow && !flowRow.idport.failed) {
  out.push('');
  out.push(
    `code flow: idport ${fmt(flowRow.idport.rps, 1)} logins/s = ${((100 * flowRow.idport.rps) / argon2.ceiling).toFixed(0)}% of the argon2 ceiling ` +
      `(${argon2.ceiling.toFixed(1)}/s)` +
      (flowRow.baseline.rps ? `; the baseline, verifying the same argon2id hash, ${fmt(flowRow.baseline.rps, 1)} logins/s = ${((100 * flowRow.baseline.rps) / argon2.ceiling).toFixed(0)}%.` : '.'),
  );
}
// The performance issue's targets, each with what this run measured (informational: the exit
// status only reflects failed requests).
const measured = (id) => results.find((r) => r.id === id);
const okRow = (row) => row && !row.idport.failed && !row.idport.na && !row.baseline.failed && !row.baseline.na;
const targets = [];
for (const id of ['cc-opaque', 'introspection', 'refresh', 'userinfo']) {
  const row = measured(id);
  if (okRow(row)) targets.push([`${id} ≥ 0.85 of the baseline`, (row.idport.rps / row.baseline.rps).toFixed(2), row.idport.rps / row.baseline.rps >= 0.85]);
}
if (okRow(measured('cc-jwt')) && okRow(measured('cc-opaque'))) {
  const r = measured('cc-jwt').idport.rps / measured('cc-opaque').idport.rps;
  targets.push(['JWT client_credentials ≥ 0.8 of opaque (idport)', r.toFixed(2), r >= 0.8]);
}
if (flowRow && !flowRow.idport.failed) {
  const r = flowRow.idport.rps / argon2.ceiling;
  targets.push(['code flow ≥ 0.8 of the argon2 ceiling', r.toFixed(2), r >= 0.8]);
  if (okRow(flowRow)) {
    const vsBaseline = flowRow.idport.rps / flowRow.baseline.rps;
    targets.push(['code flow ≥ 0.85 of the baseline (same argon2id)', vsBaseline.toFixed(2), vsBaseline >= 0.85]);
  }
}
for (const row of results.filter((r) => r.idport.halfPeak)) {
  targets.push([`${row.id} p99 < 20 ms at half peak`, `${fmt(row.idport.halfPeak.p99, 1)} ms`, row.idport.halfPeak.p99 < 20]);
}
if (targets.length) {
  out.push('');
  out.push(table(['target', 'measured', 'met'], targets.map(([t, m, ok]) => [t, m, ok ? 'yes' : 'NO'])));
}
for (const [row, kind] of results.flatMap((r) => [[r, 'idport'], [r, 'baseline']])) {
  const p = row[kind].profile;
  if (!p) continue;
  out.push('');
  out.push(`CPU profile of ${kind} during ${row.id} (${p.file.replace(root, '')}, ${fmt(p.totalMs)} ms sampled), top self time:`);
  out.push(table(['function', 'self ms', '%'], p.functions.map((f) => [f.name, fmt(f.ms), f.pct.toFixed(1)])));
  out.push('');
  out.push(table(['by package', 'self ms', '%'], p.packages.map((f) => [f.name, fmt(f.ms), f.pct.toFixed(1)])));
}
process.stdout.write(`\n${out.join('\n')}\n`);

if (args.json) writeFileSync(args.json, `${JSON.stringify({ mode: modeName, machine, argon2, connections, vus, durations: mode, results }, null, 2)}\n`);

const problems = results.flatMap((row) =>
  ['idport', 'baseline'].flatMap((kind) => {
    const r = row[kind];
    if (r.failed) return [`${row.id} on ${kind}: ${r.failed}`];
    if (r.errors) return [`${row.id} on ${kind}: ${r.errors} of ${r.total} requests failed (${r.errorDetail})${r.serverOutput ? `\n${r.serverOutput}` : ''}`];
    return [];
  }),
);
if (problems.length) {
  process.stderr.write(`\nbench: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
if (modeName === 'selfCheck') log(`bench: self-check passed (${selected.length} scenarios on idport and the baseline, no failed request) in ${elapsed()}`);
process.exit(0);
