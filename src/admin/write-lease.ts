import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import type { CounterStore } from '../storage/types.js';
import { conflict } from './problem.js';

export interface LeaseTiming {
  /** how long a lease holds if its holder never lets go (a crashed node) */
  leaseMs: number;
  /** how long a change waits for another one on the same resource before answering 409 */
  waitMs: number;
  pollMs: number;
}

const defaults: LeaseTiming = { leaseMs: 10_000, waitMs: 5_000, pollMs: 10 };

/**
 * Changes through the admin API to one resource, one at a time across every node: each takes a
 * lease on the resource (one atomic step in the shared counters) for as long as it reads, checks
 * If-Match and writes. So of two admins who read the same version and send their changes at once,
 * one applies and the other gets 412, instead of both passing the check before either writes.
 * (It orders admin API changes among themselves; the CLI and users' own pages do not take it.)
 */
export function createWriteLeases(counters: CounterStore, timing: Partial<LeaseTiming> = {}) {
  const { leaseMs, waitMs, pollMs } = { ...defaults, ...timing };
  return async function exclusive<T>(resource: string, change: () => Promise<T>): Promise<T> {
    const key = `admin-write:${resource}`;
    const holder = randomInt(1, 2 ** 47);
    const giveUpAt = Date.now() + waitMs;
    for (;;) {
      const stored = await counters.update(key, (current, now) => (current ? current : { state: { holder }, expiresAt: now + leaseMs }));
      if (stored?.state.holder === holder) break;
      if (Date.now() >= giveUpAt) throw conflict('another change to this resource is in progress; retry shortly');
      await sleep(pollMs);
    }
    try {
      return await change();
    } finally {
      // only our own lease: one that expired meanwhile may be someone else's now
      await counters.update(key, (current) => (current?.state.holder === holder ? undefined : current));
    }
  };
}
