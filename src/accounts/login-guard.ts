import type { Config } from '../config/schema.js';
import { clientAddressKey } from '../limits/client-address.js';
import { countHit, secondsUntil } from '../limits/fixed-window.js';
import type { CounterEntry, CounterStore } from '../storage/types.js';

export type GuardRefusal = { allowed: false; retryAfter: number; reason: 'account' | 'ip' | 'rate' };
export type GuardVerdict = { allowed: true; ticket: LoginTicket } | GuardRefusal;

/** One attempt that was let through: its outcome must be reported (failed, succeeded or released). */
export interface LoginTicket {
  subjectKey: string;
  ipKey: string;
}

/**
 * Per-subject state: `f` failures counted, `p` attempts being checked right now, `until` (epoch ms)
 * before which no attempt is checked.
 */
type SubjectState = { f: number; p: number; until: number };

const stateOf = (entry: CounterEntry | undefined): SubjectState => ({
  f: entry?.state.f ?? 0,
  p: entry?.state.p ?? 0,
  until: entry?.state.until ?? 0,
});

/**
 * Brute-force protection for password checks, with counters in the store so every node sees them.
 *
 * Per subject (the account's id when the login names an account, else the typed text normalised,
 * so a lockout reveals nothing): an attempt takes a place from the budget atomically *before* the
 * password is checked. `freeFailures` attempts may be checked; after that, one at a time, each
 * after a wait that doubles from `waitSeconds` up to `maxWaitSeconds`. A success gives everything
 * back; failures are forgotten `resetSeconds` after the last one. Per client address (IPv6 per
 * /64): too many failures in an hour block it; too many attempts per minute are throttled.
 */
export function createLoginGuard(counters: CounterStore, policy: Config['bruteForce']) {
  const waitFor = (failures: number) => Math.min(policy.maxWaitSeconds, policy.waitSeconds * 2 ** (failures - policy.freeFailures));

  /** Takes a place for one check, or says how long to wait. */
  async function reserve(subjectKey: string): Promise<GuardRefusal | undefined> {
    let refusal: GuardRefusal | undefined;
    await counters.update(subjectKey, (current, now) => {
      const s = stateOf(current);
      const free = s.f + s.p < policy.freeFailures;
      const turn = s.f >= policy.freeFailures && s.p === 0 && s.until <= now;
      refusal = undefined;
      if (s.until > now || (!free && !turn)) {
        // Waiting out a lock, or the last free places are being checked right now.
        refusal = { allowed: false, reason: 'account', retryAfter: secondsUntil(Math.max(s.until, now + 1000), now) };
        return current;
      }
      const expiresAt = Math.max(current?.expiresAt ?? 0, now + policy.resetSeconds * 1000);
      return { state: { ...s, p: s.p + 1 }, expiresAt };
    });
    return refusal;
  }

  /** Ends one check: `failed` turns the place into a counted failure, otherwise it is given back. */
  const settle = (subjectKey: string, failed: boolean) =>
    counters.update(subjectKey, (current, now) => {
      const s = stateOf(current);
      const p = Math.max(0, s.p - 1);
      if (!failed) return p > 0 || s.f > 0 ? { state: { ...s, p }, expiresAt: current!.expiresAt } : undefined;
      const f = s.f + 1;
      const until = f >= policy.freeFailures ? now + waitFor(f) * 1000 : 0;
      return { state: { f, p, until }, expiresAt: Math.max(now + policy.resetSeconds * 1000, until) };
    });

  return {
    /** Call before checking a password for `subject` (see subjectFor): may this attempt go ahead? */
    async begin(subject: string, ip: string): Promise<GuardVerdict> {
      const ipKey = clientAddressKey(ip);
      const ipFail = await counters.get(`login:ip-fail:${ipKey}`);
      if (ipFail?.state.blockedUntil !== undefined) {
        return { allowed: false, reason: 'ip', retryAfter: secondsUntil(ipFail.state.blockedUntil, Date.now()) };
      }
      const rate = await countHit(counters, `login:ip:${ipKey}`, { limit: policy.loginsPerIpPerMinute, windowSeconds: 60 });
      if (!rate.allowed) return { allowed: false, reason: 'rate', retryAfter: rate.retryAfter };
      const subjectKey = `login:subject:${subject}`;
      const refusal = await reserve(subjectKey);
      return refusal ?? { allowed: true, ticket: { subjectKey, ipKey } };
    },

    /** The password was wrong: counts a failure for the subject and the address; returns the subject's failures. */
    async failed(ticket: LoginTicket): Promise<number> {
      const [entry] = await Promise.all([
        settle(ticket.subjectKey, true),
        counters.update(`login:ip-fail:${ticket.ipKey}`, (current, now) => {
          const n = (current?.state.n ?? 0) + 1;
          if (n < policy.ipFailuresPerHour) return { state: { n } as Record<string, number>, expiresAt: current?.expiresAt ?? now + 3600_000 };
          // Reaching the hourly budget blocks the address for ipBlockSeconds from now.
          const blockedUntil = now + policy.ipBlockSeconds * 1000;
          return { state: { n, blockedUntil }, expiresAt: blockedUntil };
        }),
      ]);
      return entry?.state.f ?? 0;
    },

    /** The password was right: the subject's failures are forgotten (not the address's). */
    async succeeded(ticket: LoginTicket): Promise<void> {
      await counters.delete(ticket.subjectKey);
    },

    /** The check did not happen (server busy): the place is given back, nothing counted. */
    async released(ticket: LoginTicket): Promise<void> {
      await settle(ticket.subjectKey, false);
    },
  };
}

export type LoginGuard = ReturnType<typeof createLoginGuard>;
