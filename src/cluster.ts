import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';

import type { Config } from './config/schema.js';
import { listenMetrics, scrapeCluster } from './http/metrics-server.js';

export const workerCount = (config: Pick<Config, 'workers'>) =>
  config.workers === 'auto' ? availableParallelism() : config.workers;

/**
 * V8's helper threads for each worker (`--v8-pool-size`): the cores the workers leave free, shared
 * among them, at least one. Node's default is 4 on any machine, so N workers on N cores would run
 * 4N threads that all wake up for a full collection's concurrent marking and take the cores from
 * the requests of every worker (bench/README.md, "Round nine").
 */
export const helperThreadsPerWorker = (cores: number, workers: number) =>
  Math.max(1, Math.floor((cores - workers) / workers));

/** The `--v8-pool-size` value in a list of Node flags (`=N` or ` N`), the last one winning. */
function poolSizeIn(flags: readonly string[]): number | undefined {
  let size: number | undefined;
  flags.forEach((flag, i) => {
    if (flag === '--v8-pool-size') size = Number(flags[i + 1]);
    else if (flag.startsWith('--v8-pool-size=')) size = Number(flag.slice('--v8-pool-size='.length));
  });
  return size;
}

/**
 * A worker's Node flags: the primary's, with V8's pool sized for `helpers` threads. An operator's
 * own non-zero `--v8-pool-size` (on the command line or in NODE_OPTIONS) is kept as it is; `0`
 * (how `npm start` runs: "as many as the machine has cores, less one") is resolved per worker.
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined, helpers: number): string[] {
  const chosen = poolSizeIn(execArgv) ?? poolSizeIn(nodeOptions?.trim().split(/\s+/) ?? []);
  if (chosen !== undefined && chosen !== 0) return [...execArgv];
  return [...execArgv, `--v8-pool-size=${helpers}`];
}

export interface PrimaryOptions {
  count: number;
  /** serve the workers' summed metrics here */
  metrics?: { port: number; host: string } | undefined;
  /** prints the start-up line once every worker listens */
  onReady(url: string): void;
  log(message: string): void;
}

/**
 * The primary of `WORKERS=N`: forks N workers that share the port (Node's cluster module), restarts
 * one that dies (with a growing delay if it keeps dying), and on SIGTERM/SIGINT drains them all.
 * Workers hold no state of their own: everything lives in the store, as with separate nodes.
 */
export function runPrimary({ count, metrics, onReady, log }: PrimaryOptions): void {
  let stopping = false;
  let failedWhileStopping = false;
  let ready = 0;
  /** workers that said they listen (the others are still loading, and hold no requests) */
  const listening = new Set<Worker>();
  // Let the kernel hand connections to live workers: with Node's default round-robin the primary
  // can pass a new connection to a worker that just died, and that connection then hangs.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({
    execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS, helperThreadsPerWorker(availableParallelism(), count)),
  });
  const recentDeaths: number[] = [];

  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (msg: { type?: string; url?: string }) => {
      if (msg?.type !== 'ready') return;
      listening.add(worker);
      if ((ready += 1) === count && msg.url) onReady(msg.url);
    });
  };

  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) {
      // A worker still loading its modules has no SIGTERM handler yet: our signal ends it outright,
      // which is a clean stop (it had no requests). Any other non-zero end is a failure.
      const killedWhileLoading = signal === 'SIGTERM' && !listening.has(worker);
      if ((code !== 0 || signal) && !killedWhileLoading) failedWhileStopping = true;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failedWhileStopping ? 1 : 0);
      return;
    }
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length && recentDeaths[0]! < now - 60_000) recentDeaths.shift();
    const delay = Math.min(30_000, 250 * 2 ** Math.max(0, recentDeaths.length - 1));
    log(`idport: worker ${worker.process.pid} exited (${signal ?? code}); starting another in ${delay} ms`);
    setTimeout(() => !stopping && fork(), delay).unref();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`idport: ${signal} received, draining ${count} workers…`);
    const workers = Object.values(cluster.workers ?? {});
    if (!workers.length) process.exit(0);
    for (const worker of workers) worker?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  for (let i = 0; i < count; i += 1) fork();
  if (metrics) {
    listenMetrics(metrics.port, metrics.host, scrapeCluster()).catch((err: Error) =>
      log(`idport: cannot serve metrics on ${metrics.host}:${metrics.port}: ${err.message}`),
    );
  }
}

/** In a worker: tell the primary we listen. */
export function reportReady(url: string): void {
  if (cluster.isWorker) process.send?.({ type: 'ready', url });
}
