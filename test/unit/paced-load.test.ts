/**
 * The bench's paced load (bench/lib/paced.mjs), which the "p99 at half peak" target is measured
 * with: requests spread evenly over the second (not sent in a burst, as autocannon's overallRate
 * does), and latency counted from when a request was issued, so a server that falls behind is
 * seen falling behind (no coordinated omission).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

interface PacedResult {
  rate: number;
  total: number;
  errors: number;
  p50: number;
  p99: number;
}
type Paced = (
  url: string,
  spec: { method: string; path: string; headers?: Record<string, string>; bodies?: string[]; expectBody?: string },
  seconds: number,
  connections: number,
  rate: number,
  options?: { warmup?: number },
) => Promise<PacedResult>;

const pacedModule = '../../bench/lib/paced.mjs';
const { paced } = (await import(pacedModule)) as { paced: Paced };

let server: Server;
let url: string;
let arrivals: number[] = [];
let delayMs = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    arrivals.push(performance.now());
    req.resume();
    if (req.url === '/missing') res.statusCode = 404;
    setTimeout(() => res.end(req.url === '/wrong' ? 'other' : 'ok'), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  arrivals = [];
  delayMs = 0;
});

test('requests arrive spread over the second at the rate asked for, not in a burst', async () => {
  const result = await paced(url, { method: 'GET', path: '/' }, 1, 10, 200, { warmup: 0 });
  expect(result).toMatchObject({ total: 200, errors: 0 });
  expect(arrivals).toHaveLength(200);
  const start = arrivals[0]!;
  // 50 expected in each quarter second; a burst would bring all 200 in the first
  const quarters = [0, 1, 2, 3].map((q) => arrivals.filter((t) => t - start >= q * 250 && t - start < (q + 1) * 250).length);
  for (const n of quarters) {
    expect(n).toBeGreaterThanOrEqual(20);
    expect(n).toBeLessThanOrEqual(100);
  }
  expect(arrivals.at(-1)! - start).toBeGreaterThan(900);
});

test('a server slower than the pace is seen falling behind: latency counts the wait for a connection', async () => {
  delayMs = 50; // 2 connections serve at most 40 requests a second; 100 are asked for
  const result = await paced(url, { method: 'GET', path: '/' }, 1, 2, 100, { warmup: 0 });
  expect(result.errors).toBe(0);
  expect(result.p50).toBeGreaterThanOrEqual(50);
  // the last of 100 requests waits for the ~98 before it, 2 at a time: about 2.4 s
  expect(result.p99).toBeGreaterThan(1500);
});

test('the warm-up is sent but not counted; a wrong status or body counts as an error', async () => {
  const counted = await paced(url, { method: 'GET', path: '/', expectBody: 'ok' }, 0.5, 5, 100, { warmup: 0.5 });
  expect(counted).toMatchObject({ total: 50, errors: 0 });
  expect(arrivals).toHaveLength(100);
  const wrong = await paced(url, { method: 'GET', path: '/wrong', expectBody: 'ok' }, 0.2, 5, 100, { warmup: 0 });
  expect(wrong).toMatchObject({ total: 20, errors: 20 });
  const missing = await paced(url, { method: 'GET', path: '/missing' }, 0.2, 5, 100, { warmup: 0 });
  expect(missing).toMatchObject({ total: 20, errors: 20 });
});
