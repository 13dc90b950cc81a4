/**
 * Starts a server under test in its own Node process (so the load generator never shares its
 * event loop), waits for its URL over IPC, measures its memory, and stops it.
 */
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

import { startFlags } from './cli.mjs';

const scripts = {
  idport: fileURLToPath(new URL('../servers/idport-server.mjs', import.meta.url)),
  baseline: fileURLToPath(new URL('../servers/baseline-server.mjs', import.meta.url)),
};

const procStatus = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
};
const kib = (status, field) => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status ?? '');
  return m ? Number(m[1]) * 1024 : undefined;
};

/**
 * Both servers run with the Node flags of `npm start` (startFlags), then `execArgv`: the same
 * runtime for idport and the bare library, so what differs between them is the code.
 * `onStdout` sees all of the child's standard output (e.g. V8's --trace-gc-nvp lines), not only the
 * last chunks kept for errors.
 */
export async function startChild(kind, { env = {}, execArgv = [], startTimeoutMs = 30_000, onStdout } = {}) {
  const output = [];
  const child = fork(scripts[kind], [], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
    execArgv: [...startFlags, ...execArgv],
  });
  const keep = (chunk) => {
    output.push(String(chunk));
    if (output.length > 200) output.shift();
  };
  child.stdout.on('data', keep);
  if (onStdout) child.stdout.on('data', (chunk) => onStdout(String(chunk)));
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => { exited = true; resolve({ code, signal }); }));

  let features = {};
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start within ${startTimeoutMs} ms\n${output.join('')}`)), startTimeoutMs);
    child.on('message', (msg) => {
      if (msg?.type === 'ready') {
        clearTimeout(timer);
        features = msg.features ?? {};
        resolve(msg.url);
      }
    });
    exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited (${code ?? signal}) before it was ready:\n${output.join('')}`));
    });
  });

  // Peak RSS: Linux's VmHWM, reset with clear_refs at the start of each measured run; where that
  // is not possible, the highest RSS seen by sampling every 100 ms.
  let hwmResettable = false;
  let sampledPeak = 0;
  let sampler;
  const sampleOnce = async () => {
    const rss = kib(procStatus(child.pid), 'VmRSS') ?? (await ipcRss());
    if (rss) sampledPeak = Math.max(sampledPeak, rss);
  };
  const ipcRss = () =>
    new Promise((resolve) => {
      if (exited) return resolve(undefined);
      const onMsg = (msg) => {
        if (msg?.type === 'mem') {
          child.off('message', onMsg);
          resolve(msg.rss);
        }
      };
      child.on('message', onMsg);
      child.send({ type: 'mem' });
      setTimeout(() => { child.off('message', onMsg); resolve(undefined); }, 1000).unref();
    });

  return {
    kind,
    url,
    /** what this server says it supports, e.g. { jwtAccessTokens: true } */
    features,
    pid: child.pid,
    output: () => output.join(''),
    get exited() {
      return exited;
    },
    /** Starts a fresh peak-memory window. */
    resetPeak() {
      try {
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
        hwmResettable = true;
      } catch {
        hwmResettable = false;
      }
      sampledPeak = 0;
      clearInterval(sampler);
      sampler = setInterval(() => void sampleOnce(), 100);
      sampler.unref();
    },
    /** Peak RSS in bytes since the last resetPeak(). */
    async peakRss() {
      clearInterval(sampler);
      await sampleOnce();
      const hwm = hwmResettable ? kib(procStatus(child.pid), 'VmHWM') : undefined;
      return Math.max(hwm ?? 0, sampledPeak);
    },
    /** Asks the child for something over IPC and waits for the answer of type `reply`. */
    request(msg, reply, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const onMsg = (m) => {
          if (m?.type === reply) done(resolve, m);
          else if (m?.type === 'profile-error') done(reject, new Error(m.message));
        };
        const timer = setTimeout(() => done(reject, new Error(`${kind}: no ${reply} within ${timeoutMs} ms`)), timeoutMs);
        const done = (fn, v) => {
          clearTimeout(timer);
          child.off('message', onMsg);
          fn(v);
        };
        child.on('message', onMsg);
        child.send(msg);
      });
    },
    /** Asks the child to close and exit (writing its CPU profile, if any); kills it after 10 s. */
    async stop() {
      clearInterval(sampler);
      if (exited) return exit;
      try {
        child.send({ type: 'stop' });
      } catch {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exit;
      clearTimeout(timer);
      return result;
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}
