/**
 * The back-channel logout delivery queue (src/logout/delivery-queue.ts) on its own: `add` never
 * waits, backoff doubles and is capped, the pending bound holds, and closing gives up what waits
 * without waiting for it.
 */
import { createDeliveryQueue, maxRetryDelayMs, retryDelay, type AttemptResult, type Outcome } from '../../src/logout/delivery-queue.js';

const timing = { attemptTimeoutMs: 200, firstRetryMs: 20, retryForSeconds: 1, maxPending: 3 };

function queueWith(attempt: (job: string, signal: AbortSignal) => Promise<AttemptResult>, over: Partial<typeof timing> = {}) {
  const outcomes: { job: string; outcome: Outcome; attempts: number; detail: string }[] = [];
  const queue = createDeliveryQueue<string>({ timing: { ...timing, ...over }, attempt, onOutcome: (job, outcome, info) => outcomes.push({ job, outcome, ...info }) });
  return { queue, outcomes };
}

test('the wait before retry n doubles from firstRetryMs and stops at 30 s', () => {
  expect([1, 2, 3, 4].map((n) => retryDelay(1000, n))).toEqual([1000, 2000, 4000, 8000]);
  expect(retryDelay(1000, 20)).toBe(maxRetryDelayMs);
});

test('add returns before any attempt starts', async () => {
  let started = 0;
  const { queue, outcomes } = queueWith(async () => {
    started += 1;
    return { kind: 'delivered', status: 200 };
  });
  queue.add('a');
  expect(started).toBe(0);
  await queue.idle(1000);
  expect(outcomes).toEqual([{ job: 'a', outcome: 'delivered', attempts: 1, detail: 'HTTP 200' }]);
});

test('an attempt that never settles is aborted at attemptTimeoutMs and retried; refused is final', async () => {
  let calls = 0;
  const { queue, outcomes } = queueWith(
    (job, signal) =>
      new Promise<AttemptResult>((resolve, reject) => {
        calls += 1;
        if (job === 'no') return resolve({ kind: 'refused', detail: 'HTTP 400' });
        if (calls >= 3) return resolve({ kind: 'delivered', status: 204 });
        signal.addEventListener('abort', () => reject(signal.reason as Error));
      }),
    { attemptTimeoutMs: 50 },
  );
  queue.add('yes');
  await queue.idle(2000);
  queue.add('no');
  await queue.idle(2000);
  expect(outcomes).toEqual([
    { job: 'yes', outcome: 'delivered', attempts: 3, detail: 'HTTP 204' },
    { job: 'no', outcome: 'failed', attempts: 1, detail: 'HTTP 400' },
  ]);
});

test('retrying stops once retryForSeconds would pass: given up', async () => {
  const { queue, outcomes } = queueWith(async () => ({ kind: 'retry', detail: 'HTTP 503' }), { retryForSeconds: 1, firstRetryMs: 200 });
  const began = Date.now();
  queue.add('down');
  await queue.idle(3000);
  expect(outcomes).toEqual([{ job: 'down', outcome: 'gave_up', attempts: 3, detail: 'HTTP 503' }]); // at 0, 0.2, 0.6 s; the next would be at 1.4 s
  expect(Date.now() - began).toBeLessThan(1000);
});

test('beyond maxPending a job is given up at once; closing gives up what waits for a retry and returns', async () => {
  const { queue, outcomes } = queueWith(async () => ({ kind: 'retry', detail: 'HTTP 500' }), { firstRetryMs: 10_000, retryForSeconds: 60 });
  for (const job of ['1', '2', '3', '4']) queue.add(job);
  expect(outcomes).toEqual([{ job: '4', outcome: 'gave_up', attempts: 0, detail: 'queue full' }]);
  await new Promise((r) => setTimeout(r, 50)); // the first attempts ran; the retries wait 10 s
  const began = Date.now();
  await queue.close();
  expect(Date.now() - began).toBeLessThan(100);
  expect(outcomes.map((o) => [o.job, o.outcome, o.detail]).sort()).toEqual([
    ['1', 'gave_up', 'shutting down'],
    ['2', 'gave_up', 'shutting down'],
    ['3', 'gave_up', 'shutting down'],
    ['4', 'gave_up', 'queue full'],
  ]);
  queue.add('5');
  expect(outcomes.at(-1)).toEqual({ job: '5', outcome: 'gave_up', attempts: 0, detail: 'shutting down' });
  expect(queue.size).toBe(0);
});
