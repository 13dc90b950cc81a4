#!/usr/bin/env node
/**
 * What each request leaves to the garbage collector: starts one server (idport, or the bare
 * library) under V8's --trace-gc-nvp, loads one scenario at an even pace (bench/lib/paced.mjs)
 * and reports each young-generation collection (scavenge): how long it paused the server, how
 * much survived it, and how much it promoted to the old generation per request. A scavenge
 * copies whatever survives it, so survivors are what its pause costs; what is promoted and
 * dies soon after fills the old generation and brings full collections sooner.
 *
 *   node bench/gc.mjs                     idport, userinfo, 10 connections, 2,000 req/s, 6 s
 *   node bench/gc.mjs --server=baseline --scenario=introspection --rate=2500
 *   options: --server=idport|baseline  --scenario=ID  --rate=N  --connections=N  --seconds=S
 *            --against=DIR (idport as built in another checkout, DIR/dist)
 *
 * 3 s at the same pace come first and are not counted. Exit status 1 if a request failed or the
 * server printed no collections; 2 for usage errors or a missing dist/.
 */
import { join } from 'node:path';

import { startChild } from './lib/child.mjs';
import { benchCli } from './lib/cli.mjs';
import { cpuWindow } from './lib/cpu.mjs';
import { paced } from './lib/paced.mjs';
import { scenarios } from './lib/scenarios.mjs';
import { fmt, median, table } from './lib/stats.mjs';

const { args, usage } = benchCli({
  script: import.meta.url,
  name: 'bench/gc',
  dist: 'dist/server.js',
  npmScript: 'build',
  options: {
    server: { type: 'string', default: 'idport' },
    scenario: { type: 'string', default: 'userinfo' },
    rate: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '6' },
    against: { type: 'string' },
  },
});
const scenario = scenarios.find((s) => s.id === args.scenario && !s.flow);
const rate = Number(args.rate);
const connections = Number(args.connections);
const seconds = Number(args.seconds);
if (!['idport', 'baseline'].includes(args.server)) usage('--server must be idport or baseline');
if (!scenario) usage(`--scenario must be one of ${scenarios.filter((s) => !s.flow).map((s) => s.id).join(', ')}`);
if (!(rate >= 1 && rate <= 50_000)) usage('--rate must be 1..50000');
if (!(connections >= 1 && connections <= 1000)) usage('--connections must be 1..1000');
if (!(seconds >= 1 && seconds <= 120)) usage('--seconds must be 1..120');
if (args.against && args.server !== 'idport') usage('--against goes with --server=idport');

/** One --trace-gc-nvp line: `... pause=3.8 ... gc=s ... promoted=1343528 new_space_survived=1415328 ...` */
const parse = (line) => {
  const field = (name) => {
    const m = new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(line);
    return m ? m[1] : undefined;
  };
  const kind = field('gc');
  return kind === undefined ? undefined : { kind, pause: Number(field('pause')), promoted: Number(field('promoted') ?? 0), survived: Number(field('new_space_survived') ?? 0) };
};

let measuring = false;
let pendingLine = '';
const collections = [];
const child = await startChild(args.server, {
  execArgv: ['--trace-gc-nvp'],
  // the scenario's own settings for this server (cc-jwt: the baseline's JWT access tokens)
  env: { ...(scenario.env?.[args.server] ?? {}), ...(args.against ? { BENCH_IDPORT_DIST: join(args.against, 'dist') } : {}) },
  onStdout(chunk) {
    const lines = (pendingLine + chunk).split('\n');
    pendingLine = lines.pop() ?? '';
    if (!measuring) return;
    for (const line of lines) {
      const gc = parse(line);
      if (gc) collections.push(gc);
    }
  },
});
let failed = false;
try {
  const spec = await scenario.prepare(child.url);
  await paced(child.url, spec, 3, connections, rate, { warmup: 0 });
  measuring = true;
  const cpu = cpuWindow(child.pid);
  const load = await paced(child.url, spec, seconds, connections, rate, { warmup: 0 });
  const { serverSeconds } = cpu();
  measuring = false;
  const served = load.total - load.errors;
  const scavenges = collections.filter((c) => c.kind === 's');
  const full = collections.filter((c) => c.kind !== 's');
  const sum = (list, key) => list.reduce((n, c) => n + c[key], 0);
  const ms = (list) => list.map((c) => c.pause).sort((a, b) => a - b);
  process.stdout.write(
    `${args.server}${args.against ? ` (${args.against})` : ''}, ${scenario.id}, ${fmt(rate)} req/s on ${connections} connection(s), ${seconds} s\n\n` +
      table(
        ['requests', 'CPU ms/request', 'p50 / p99 ms', 'scavenges', 'scavenge pause ms median / max', 'survived per scavenge KB (median)', 'promoted per request B', 'full GCs (pauses ms)'],
        [[
          fmt(served),
          served && serverSeconds !== undefined ? fmt((serverSeconds * 1000) / served, 3) : '–',
          `${fmt(load.p50, 1)} / ${fmt(load.p99, 1)}`,
          fmt(scavenges.length),
          scavenges.length ? `${fmt(median(ms(scavenges)), 1)} / ${fmt(Math.max(...ms(scavenges)), 1)}` : '–',
          scavenges.length ? fmt(median(scavenges.map((c) => c.survived)) / 1024) : '–',
          served ? fmt(sum(scavenges, 'promoted') / served) : '–',
          `${full.length}${full.length ? ` (${ms(full).map((p) => fmt(p, 1)).join(', ')})` : ''}`,
        ]],
      ) +
      '\n',
  );
  if (load.errors) {
    process.stderr.write(`bench/gc: ${load.errors} of ${load.total} requests failed\n`);
    failed = true;
  }
  if (!collections.length) {
    process.stderr.write('bench/gc: the server printed no collections (--trace-gc-nvp)\n');
    failed = true;
  }
} finally {
  await child.stop();
  child.kill();
}
process.exit(failed ? 1 : 0);
