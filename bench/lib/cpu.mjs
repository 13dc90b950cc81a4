/**
 * CPU accounting from /proc (Linux), to tell a clean measurement from one disturbed by other
 * work on the machine: how many cores the server under test used, how many this load generator
 * used, and how many went to OTHER processes during the run. Elsewhere everything is undefined.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';

let tick = 100;
try {
  tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep 100, Linux's usual USER_HZ
}

const read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** Busy and total CPU seconds of the whole machine. */
function machine() {
  const line = read('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return undefined;
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / tick, total: (busy + idle + iowait) / tick };
}

/** CPU seconds (user + system, all threads) of one process. */
function proc(pid) {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / tick; // utime, stime (fields 14 and 15)
}

/** Starts a window; the returned function ends it and reports cores used on average. */
export function cpuWindow(serverPid) {
  const t0 = performance.now();
  const m0 = machine();
  const s0 = proc(serverPid);
  const g0 = proc(process.pid);
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const m1 = machine();
    const s1 = proc(serverPid);
    const g1 = proc(process.pid);
    if (!m0 || !m1 || s0 === undefined || s1 === undefined || g0 === undefined || g1 === undefined || secs <= 0) return {};
    const server = (s1 - s0) / secs;
    const loadgen = (g1 - g0) / secs;
    const all = (m1.busy - m0.busy) / secs;
    return { server, loadgen, other: Math.max(0, all - server - loadgen), serverSeconds: s1 - s0 };
  };
}

/** Cores' worth of CPU the whole machine is using right now (sampled over `ms`). */
export async function machineBusy(ms = 1000) {
  const a = machine();
  await new Promise((r) => setTimeout(r, ms));
  const b = machine();
  return a && b ? (b.busy - a.busy) / (ms / 1000) : undefined;
}
