/**
 * Open-loop load at a fixed rate: request i is issued at start + i / rate, whatever happened to the
 * ones before it, on at most `connections` keep-alive connections (node:http's Agent queues the
 * rest). Its latency runs from the moment it is issued to the end of its answer, so time spent
 * waiting for a free connection counts (no coordinated omission); this process's own timer
 * lateness (a timer fires up to ~1 ms late) does not.
 *
 * Why not autocannon's `overallRate`: it does not pace. Each connection sends back to back until it
 * has made its share of the second's requests, then waits for the next second
 * (autocannon/lib/httpClient.js, `reqsMadeThisSecond`), so at half the peak rate the server is
 * saturated for half of every second and the p99 is that of a saturated server.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { percentile } from './stats.mjs';

/**
 * @param {string} url the server's base URL (http://127.0.0.1:PORT)
 * @param {import('./scenarios.mjs').RequestSpec} spec
 * @param {number} seconds measured seconds, after `warmup` seconds at the same rate that are not
 *   counted (the connections open, the pace settles); then waits for the last answers, 10 s at most
 * @param {number} connections at most this many requests in flight
 * @param {number} rate requests per second
 */
export async function paced(url, spec, seconds, connections, rate, { warmup = 1 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const { hostname, port } = new URL(url);
  const bodies = spec.bodies ?? [];
  const interval = 1000 / rate;
  const warmupCount = Math.round(rate * warmup);
  const total = warmupCount + Math.round(rate * seconds);
  const latencies = [];
  let errors = 0;

  const send = (i, body) =>
    new Promise((resolve) => {
      const issued = performance.now();
      const counted = i >= warmupCount;
      const done = (ok) => {
        if (counted && ok) latencies.push(performance.now() - issued);
        else if (counted) errors += 1;
        resolve();
      };
      const headers = { ...spec.headers, ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) };
      const req = http.request({ agent, hostname, port, method: spec.method, path: spec.path, headers, timeout: 10_000 }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => done(res.statusCode >= 200 && res.statusCode < 300 && (spec.expectBody === undefined || Buffer.concat(chunks).toString() === spec.expectBody)));
        res.on('error', () => done(false));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => done(false));
      req.end(body);
    });

  const pending = [];
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    // Everything already due goes now (a timer fires up to ~1 ms late, so several may be due).
    while (sent < total && start + sent * interval <= performance.now()) {
      pending.push(send(sent, bodies.length ? bodies[sent % bodies.length] : undefined));
      sent += 1;
    }
    // Always yield, so answers are read while requests are being sent.
    await sleep(Math.max(0, start + sent * interval - performance.now()));
  }
  const finished = await Promise.race([Promise.all(pending).then(() => true), sleep(10_000).then(() => false)]);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const measured = total - warmupCount;
  return {
    rate,
    total: measured,
    errors: finished ? errors : measured - latencies.length,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}
