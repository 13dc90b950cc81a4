import autocannon from 'autocannon';
import { readFileSync, readdirSync } from 'node:fs';
import { startChild } from './lib/child.mjs';
import { scenarios } from './lib/scenarios.mjs';
const kind = process.argv[2] ?? 'idport';
const child = await startChild(kind, { execArgv: process.env.TRACE ? ['--trace-gc'] : [] });
const s = scenarios.find((x) => x.id === (process.argv[3] ?? 'cc-opaque'));
const spec = await s.prepare(child.url);
const threads = () => Object.fromEntries(readdirSync(`/proc/${child.pid}/task`).map((t) => { const st = readFileSync(`/proc/${child.pid}/task/${t}/stat`, 'utf8'); const name = /\((.*)\)/.exec(st)[1]; const f = st.slice(st.lastIndexOf(')') + 2).split(' '); return [`${t}:${name}`, (+f[11] + +f[12]) * 10]; }));
let i = 0;
const run = (d) => autocannon({ url: child.url, connections: 10, duration: d, requests: [{ method: spec.method, path: spec.path, headers: spec.headers, setupRequest: (req) => ({ ...req, body: spec.bodies?.[i++ % spec.bodies.length] }) }] });
await run(2);
const a = threads();
const r = await run(6);
const b = threads();
const n = r.requests.total;
console.log(kind, 'requests', n);
for (const k of Object.keys(b)) { const d = b[k] - (a[k] ?? 0); if (d > 0) console.log(k.padEnd(28), String(d).padStart(6), 'ms', ((d * 1000) / n).toFixed(1), 'us/req'); }
if (process.env.TRACE) { const o = child.output(); console.log('scavenges', (o.match(/Scavenge/g) ?? []).length, 'mark-compact', (o.match(/Mark-Compact/g) ?? []).length, 'minor-ms', (o.match(/Mark-Compact[^\n]*/g) ?? []).slice(-3).join(' | ')); }
await child.stop(); process.exit(0);
