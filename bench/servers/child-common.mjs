/**
 * The IPC protocol every server under test speaks with bench/run.mjs:
 *   child → parent  { type: 'ready', url }            once it listens and is seeded
 *   parent → child  { type: 'mem' }  → { type: 'mem', rss, heapUsed }
 *   parent → child  { type: 'gc-mem' } → full GC (needs --expose-gc), then { type: 'gc-mem', rss, heapUsed, external, arrayBuffers }
 *   parent → child  { type: 'profile-start' } → { type: 'profile-started' }
 *   parent → child  { type: 'profile-stop', file } → writes a .cpuprofile → { type: 'profile-written', file }
 *   parent → child  { type: 'stop' } → closes the server and exits 0
 * A child whose parent goes away exits by itself.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { setTimeout } from 'node:timers';

let session;
const post = (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));

/** CPU profiling of just the measured window, through the inspector (not --cpu-prof, which covers startup too). */
async function profile(msg) {
  if (msg.type === 'profile-start') {
    if (!session) {
      session = new Session();
      session.connect();
    }
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
    process.send?.({ type: 'profile-started' });
  } else {
    const { profile: data } = await post('Profiler.stop');
    writeFileSync(msg.file, JSON.stringify(data));
    process.send?.({ type: 'profile-written', file: msg.file });
  }
}

export function serveIpc(close) {
  let stopping = false;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(code), 5000);
    force.unref();
    try {
      await close();
    } finally {
      process.exit(code);
    }
  };
  process.on('message', (msg) => {
    if (msg?.type === 'mem') {
      const { rss, heapUsed } = process.memoryUsage();
      process.send?.({ type: 'mem', rss, heapUsed });
    } else if (msg?.type === 'gc-mem') {
      // Twice: the first pass may only queue finalizers the second one collects.
      globalThis.gc?.();
      globalThis.gc?.();
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
      process.send?.({ type: 'gc-mem', rss, heapUsed, external, arrayBuffers, collected: typeof globalThis.gc === 'function' });
    } else if (msg?.type === 'profile-start' || msg?.type === 'profile-stop') {
      profile(msg).catch((err) => process.send?.({ type: 'profile-error', message: String(err?.stack ?? err) }));
    } else if (msg?.type === 'stop') {
      void stop(0);
    }
  });
  process.on('disconnect', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
}

export function fail(err) {
  process.stderr.write(`bench server failed to start: ${err?.stack ?? err}\n`);
  process.exit(1);
}
