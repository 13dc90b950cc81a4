#!/usr/bin/env node
/**
 * Memory under sustained load, and the leak check: ONE idport server (the same child as
 * `npm run bench`: dist/, fresh temporary SQLite store, NODE_ENV=production, started with
 * --expose-gc) gets several rounds of full mixed load. Each round runs, at once, autocannon over
 * client_credentials (opaque), introspection, userinfo, refresh, discovery and JWKS requests
 * (one list, cycled per connection) and virtual users doing whole sign-ins (argon2id and all).
 * After each round: the round's peak RSS (VmHWM) and the RSS at its end, then a full GC in the server and its RSS and
 * JS heap afterwards. A leak shows as heap-after-GC growing round after round; the verdict
 * compares the last round with the first.
 *
 *   node bench/memory.mjs                 3 rounds of 60 s (about 3.5 minutes)
 *   node bench/memory.mjs --quick         3 rounds of 10 s
 *   options: --rounds=N  --duration=S  --connections=N (default 10)  --vus=N (default 2)  --json=FILE
 *
 * Exit status 1 if any request failed or the heap after GC grew by more than 10% + 5 MB from
 * the first round to the last; 2 for usage errors or a missing dist/.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';

import autocannon from 'autocannon';

import { startChild } from './lib/child.mjs';
import { benchCli } from './lib/cli.mjs';
import { codeFlow } from './lib/flow.mjs';
import { scenarios } from './lib/scenarios.mjs';
import { fmt, table } from './lib/stats.mjs';

const { args, usage } = benchCli({
  script: import.meta.url,
  name: 'bench:memory',
  dist: 'dist/server.js',
  npmScript: 'bench:memory',
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    vus: { type: 'string' },
    json: { type: 'string' },
  },
});
const rounds = Number(args.rounds ?? 3);
const duration = Number(args.duration ?? (args.quick ? 10 : 60));
const connections = Number(args.connections ?? 10);
const vus = Number(args.vus ?? 2);
if (!(rounds >= 2 && rounds <= 10)) usage('--rounds must be 2..10');
if (!(duration > 0 && duration <= 300)) usage('--duration must be 1..300 seconds');
if (!(connections >= 1 && vus >= 0)) usage('--connections must be ≥ 1 and --vus ≥ 0');

const log = (line) => process.stderr.write(`${line}\n`);
const MB = 2 ** 20;
// A hard stop, whatever hangs.
setTimeout(() => {
  log('bench:memory: time limit reached, stopping');
  process.exit(1);
}, (rounds * (duration + 30) + 60) * 1000).unref();

const mixed = ['cc-opaque', 'introspection', 'userinfo', 'refresh', 'discovery', 'jwks'];
const server = await startChild('idport', { execArgv: ['--expose-gc'] });
const results = [];
let failed = 0;
try {
  const requests = [];
  for (const id of mixed) {
    const spec = await scenarios.find((s) => s.id === id).prepare(server.url);
    for (const body of spec.bodies ?? [undefined]) requests.push({ method: spec.method, path: spec.path, headers: spec.headers ?? {}, body });
  }
  const before = await server.request({ type: 'gc-mem' }, 'gc-mem');
  if (!before.collected) log('bench:memory: note: the server could not run a full GC (no --expose-gc); after-GC figures are plain readings');
  log(`bench:memory: ${rounds} rounds of ${duration} s: autocannon ${connections} connections over ${requests.length} requests (${mixed.join(', ')}) + ${vus} sign-in users`);
  log(`bench:memory: before load: RSS ${fmt(before.rss / MB)} MB, heap ${fmt(before.heapUsed / MB, 1)} MB`);
  for (let round = 1; round <= rounds; round += 1) {
    server.resetPeak();
    const deadline = performance.now() + duration * 1000;
    let signIns = 0;
    let signInErrors = 0;
    const [http] = await Promise.all([
      autocannon({ url: server.url, connections, duration, timeout: 10, requests }),
      ...Array.from({ length: vus }, async () => {
        while (performance.now() < deadline && signInErrors < 20) {
          try {
            await codeFlow(server.url);
            signIns += 1;
          } catch {
            signInErrors += 1;
          }
        }
      }),
    ]);
    const peak = await server.peakRss();
    const end = await server.request({ type: 'mem' }, 'mem');
    const after = await server.request({ type: 'gc-mem' }, 'gc-mem');
    const errors = http.errors + http.timeouts + http.non2xx + signInErrors;
    failed += errors;
    const r = { round, requests: http.requests.total, signIns, errors, peakRss: peak, endRss: end.rss, rss: after.rss, heapUsed: after.heapUsed, external: after.external };
    results.push(r);
    log(`bench:memory: round ${round}: ${fmt(r.requests)} requests + ${signIns} sign-ins, ${errors} errors; peak RSS ${fmt(peak / MB)} MB, at the end ${fmt(end.rss / MB)} MB; after GC: RSS ${fmt(after.rss / MB)} MB, heap ${fmt(after.heapUsed / MB, 1)} MB, external ${fmt(after.external / MB, 1)} MB`);
  }
} finally {
  await server.stop();
}

const first = results[0];
const last = results.at(-1);
const growth = last.heapUsed - first.heapUsed;
const leaking = growth > first.heapUsed * 0.1 + 5 * MB;
const out = [
  `idport memory under load — ${rounds} rounds of ${duration} s`,
  '',
  `- machine: ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores; Node ${process.version}; ${new Date().toISOString()}`,
  `- load per round: autocannon, ${connections} connections cycling ${mixed.join(', ')}; ${vus} virtual users signing in (code flow)`,
  '',
  table(
    ['round', 'HTTP requests', 'sign-ins', 'errors', 'peak RSS MB', 'RSS at the end MB', 'RSS after GC MB', 'heap after GC MB', 'external MB'],
    results.map((r) => [String(r.round), fmt(r.requests), fmt(r.signIns), String(r.errors), fmt(r.peakRss / MB), fmt(r.endRss / MB), fmt(r.rss / MB), fmt(r.heapUsed / MB, 1), fmt(r.external / MB, 1)]),
  ),
  '',
  `heap after GC, round 1 → ${last.round}: ${fmt(first.heapUsed / MB, 1)} → ${fmt(last.heapUsed / MB, 1)} MB (${growth >= 0 ? '+' : ''}${fmt(growth / MB, 1)} MB): ${leaking ? 'GROWING (more than 10% + 5 MB)' : 'no growth beyond noise'}`,
  `highest peak RSS: ${fmt(Math.max(...results.map((r) => r.peakRss)) / MB)} MB`,
];
process.stdout.write(`${out.join('\n')}\n`);
if (args.json) writeFileSync(args.json, JSON.stringify({ rounds: results, duration, connections, vus }, null, 2));
process.exit(failed || leaking ? 1 : 0);
