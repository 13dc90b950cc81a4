/**
 * src/http/timings.ts records on the request path without prom-client's per-call work; scraped, it
 * must read exactly like prom-client's own Histogram and Counter fed the same observations.
 */
import { Counter, Histogram, Registry } from 'prom-client';

import { Timings } from '../../src/http/timings.js';

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const observations: [string[], number][] = [
  [['token', 'POST', '200'], 0.0004],
  [['token', 'POST', '200'], 0.001], // on a bound: counted in that bucket (le is "less or equal")
  [['token', 'POST', '200'], 0.0031],
  [['token', 'POST', '400'], 0.02],
  [['userinfo', 'GET', '200'], 0.7],
  [['userinfo', 'GET', '200'], 3], // past the last bound: +Inf only
  [['discovery', 'GET', '304'], 0.0001],
];

test('the same text as prom-client for the same observations', async () => {
  const ours = new Registry();
  const timings = new Timings('idport_http_request_duration_seconds', 'HTTP request latency', ['route', 'method', 'status'], buckets, ours);
  timings.counter('idport_http_requests_total', 'HTTP requests', ours);

  const theirs = new Registry();
  const histogram = new Histogram({ name: 'idport_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['route', 'method', 'status'], buckets, registers: [theirs] });
  const counter = new Counter({ name: 'idport_http_requests_total', help: 'HTTP requests', labelNames: ['route', 'method', 'status'], registers: [theirs] });

  for (const [[route, method, status], seconds] of observations) {
    timings.observe([route!, method!, status!], seconds);
    histogram.observe({ route, method, status }, seconds);
    counter.inc({ route, method, status });
  }
  const text = await ours.metrics();
  expect(text).toBe(await theirs.metrics());
  expect(text).toContain('idport_http_request_duration_seconds_bucket{le="0.001",route="token",method="POST",status="200"} 2');
  expect(text).toContain('idport_http_request_duration_seconds_bucket{le="+Inf",route="userinfo",method="GET",status="200"} 2');
  expect(text).toContain('idport_http_requests_total{route="token",method="POST",status="200"} 3');
});

test('reset forgets every series', async () => {
  const registry = new Registry();
  const timings = new Timings('idport_store_operation_duration_seconds', 'store operation latency', ['model', 'op'], buckets, registry);
  timings.observe(['AccessToken', 'find'], 0.0002);
  expect(await registry.metrics()).toContain('idport_store_operation_duration_seconds_count{model="AccessToken",op="find"} 1');
  registry.resetMetrics();
  expect(await registry.metrics()).not.toContain('AccessToken');
});
