import type { CounterStore } from '../storage/types.js';

export interface WindowLimit {
  /** hits allowed per window */
  limit: number;
  windowSeconds: number;
}

export type WindowVerdict = { allowed: true } | { allowed: false; retryAfter: number };

export const secondsUntil = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000));

/**
 * Counts one hit of `key` in a fixed window that starts with the window's first hit, in the
 * store (so every node counts together). Past `limit` hits the answer is no until the window ends.
 */
export async function countHit(counters: CounterStore, key: string, { limit, windowSeconds }: WindowLimit): Promise<WindowVerdict> {
  let now = 0;
  const entry = await counters.update(key, (current, at) => {
    now = at;
    return current
      ? { state: { n: (current.state.n ?? 0) + 1 }, expiresAt: current.expiresAt }
      : { state: { n: 1 }, expiresAt: at + windowSeconds * 1000 };
  });
  if (!entry || (entry.state.n ?? 0) <= limit) return { allowed: true };
  return { allowed: false, retryAfter: secondsUntil(entry.expiresAt, now) };
}
