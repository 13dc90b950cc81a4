/** Top self-time functions of a V8 .cpuprofile (as written by node --cpu-prof). */
import { readFileSync } from 'node:fs';

export function topSelfTime(file, limit = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const selfUs = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }
  const where = (cf) => {
    const url = cf.url.replace(/^file:\/\//, '');
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
    const short = pkg ? `${pkg[1]}/${pkg[2]}` : url.replace(/^.*\/(dist|bench)\//, '$1/').replace(/^node:/, 'node:');
    return short ? `${short}:${cf.lineNumber + 1}` : '';
  };
  const byFunction = new Map();
  const byPackage = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame: cf } = byId.get(id);
    // A native function (no script) is named with its JavaScript caller, e.g. `native run() ← upsert dist/…`.
    const caller = byId.get(parentOf.get(id))?.callFrame;
    const key =
      cf.url || /^\(.*\)$/.test(cf.functionName)
        ? `${cf.functionName || '(anonymous)'} ${where(cf)}`.trim()
        : `native ${cf.functionName || '(anonymous)'}()${caller ? ` ← ${caller.functionName || '(anonymous)'} ${where(caller)}`.trimEnd() : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const url = cf.url;
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ??
      (url.includes('/dist/') ? 'idport (dist)' : url.startsWith('node:') ? 'node core' : url ? 'other' : /^\(.*\)$/.test(cf.functionName) ? cf.functionName : `native ${cf.functionName || '(anonymous)'}()`);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const top = (m, n) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total }));
  return { totalMs: total / 1000, functions: top(byFunction, limit), packages: top(byPackage, 15) };
}
