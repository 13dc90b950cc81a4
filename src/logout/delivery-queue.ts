/** What one delivery attempt came to. */
export type AttemptResult =
  | { kind: 'delivered'; status: number }
  /** the receiver said no for good (e.g. 400: it refused the token); trying again would not help */
  | { kind: 'refused'; detail: string }
  /** worth another try: a timeout, no connection, 408, 429 or 5xx; `retryAfterMs` from Retry-After */
  | { kind: 'retry'; detail: string; retryAfterMs?: number | undefined };

/** How a job ended: delivered, refused (failed), or given up after retrying for the allowed time. */
export type Outcome = 'delivered' | 'failed' | 'gave_up';

export interface DeliveryTiming {
  /** one attempt's limit: the attempt's signal aborts after this */
  attemptTimeoutMs: number;
  /** wait before the first retry; doubles each time, at most maxRetryDelayMs */
  firstRetryMs: number;
  /** no retry starts later than this after the job was added */
  retryForSeconds: number;
  /** jobs waiting or in flight; beyond it a new job is given up at once */
  maxPending: number;
}

export interface DeliveryQueueDeps<J> {
  timing: DeliveryTiming;
  /** one attempt; a thrown error counts as 'retry' */
  attempt: (job: J, signal: AbortSignal) => Promise<AttemptResult>;
  /** called once per job with how it ended, the attempts made and the last detail */
  onOutcome: (job: J, outcome: Outcome, info: { attempts: number; detail: string }) => void;
}

export const maxRetryDelayMs = 30_000;

/** The wait before retry number `n` (1-based): firstRetryMs, doubling, capped. */
export const retryDelay = (firstRetryMs: number, n: number): number => Math.min(maxRetryDelayMs, firstRetryMs * 2 ** (n - 1));

interface Entry<J> {
  job: J;
  addedAt: number;
  attempts: number;
  timer?: NodeJS.Timeout | undefined;
}

/**
 * Deliveries that never hold up whoever adds them: `add` returns at once, attempts run in the
 * background, each limited by attemptTimeoutMs, retried with exponential backoff for at most
 * retryForSeconds. In memory, per process: what is pending when the process dies is lost. No timer
 * keeps the process alive, and `close` drops what waits for a retry (given up) and waits only for
 * attempts in flight, which their timeout bounds.
 */
export function createDeliveryQueue<J>({ timing, attempt, onOutcome }: DeliveryQueueDeps<J>) {
  const pending = new Set<Entry<J>>();
  const inFlight = new Set<Promise<void>>();
  const idleWaiters = new Set<() => void>();
  let closed = false;

  const finish = (entry: Entry<J>, outcome: Outcome, detail: string) => {
    pending.delete(entry);
    onOutcome(entry.job, outcome, { attempts: entry.attempts, detail });
    if (!pending.size) for (const wake of idleWaiters) wake();
  };

  const later = (entry: Entry<J>, ms: number) => {
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      run(entry);
    }, ms);
    entry.timer.unref();
  };

  const settle = (entry: Entry<J>, result: AttemptResult) => {
    if (result.kind === 'delivered') return finish(entry, 'delivered', `HTTP ${result.status}`);
    if (result.kind === 'refused') return finish(entry, 'failed', result.detail);
    if (closed) return finish(entry, 'gave_up', `${result.detail}; shutting down`);
    const wait = Math.max(retryDelay(timing.firstRetryMs, entry.attempts), Math.min(result.retryAfterMs ?? 0, maxRetryDelayMs));
    if (Date.now() + wait - entry.addedAt > timing.retryForSeconds * 1000) return finish(entry, 'gave_up', result.detail);
    later(entry, wait);
  };

  const run = (entry: Entry<J>) => {
    entry.attempts += 1;
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(new Error(`no answer within ${timing.attemptTimeoutMs} ms`)), timing.attemptTimeoutMs);
    timeout.unref();
    const done: Promise<void> = attempt(entry.job, controller.signal)
      .catch((err: unknown): AttemptResult => ({ kind: 'retry', detail: controller.signal.aborted ? String((controller.signal.reason as Error)?.message) : describe(err) }))
      .then((result) => settle(entry, result))
      .finally(() => {
        clearTimeout(timeout);
        inFlight.delete(done);
      });
    inFlight.add(done);
  };

  return {
    /** Queues a job and returns at once. */
    add(job: J): void {
      const entry: Entry<J> = { job, addedAt: Date.now(), attempts: 0 };
      if (closed) return onOutcome(job, 'gave_up', { attempts: 0, detail: 'shutting down' });
      if (pending.size >= timing.maxPending) return onOutcome(job, 'gave_up', { attempts: 0, detail: 'queue full' });
      pending.add(entry);
      later(entry, 0);
    },

    /** Jobs not finished yet (waiting or in flight). */
    get size() {
      return pending.size;
    },

    /** Resolves when no job is left, or after `ms`. */
    idle(ms: number): Promise<void> {
      if (!pending.size) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          idleWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        idleWaiters.add(done);
      });
    },

    /** Stops: jobs waiting (for a first attempt or a retry) are given up; attempts in flight finish or time out. */
    async close(): Promise<void> {
      closed = true;
      for (const entry of [...pending]) {
        if (!entry.timer) continue;
        clearTimeout(entry.timer);
        finish(entry, 'gave_up', 'shutting down');
      }
      await Promise.all([...inFlight]);
    },
  };
}

/** An error in one line: its message and, for fetch's "fetch failed", the cause's code. */
function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}

export type DeliveryQueue<J> = ReturnType<typeof createDeliveryQueue<J>>;
