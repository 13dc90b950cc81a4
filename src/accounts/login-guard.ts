import { RateLimiterRes } from 'rate-limiter-flexible';

import type { Config } from '../config/schema.js';
import { normalizeLogin } from '../storage/normalize.js';
import type { Store } from '../storage/types.js';

export type GuardVerdict = { allowed: true } | { allowed: false; retryAfter: number; reason: 'account' | 'ip' | 'rate' };

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Brute-force protection for the login form, with counters in the store so every node sees them.
 * Per username (whether or not such an account exists, so a lockout reveals nothing): after
 * `freeFailures` failures each further one imposes a wait that doubles from `waitSeconds` up to
 * `maxWaitSeconds`; a success or `resetSeconds` without failures clears it. Per IP: too many
 * failures in an hour block the address; too many attempts per minute are throttled.
 */
export function createLoginGuard(store: Store, policy: Config['bruteForce']) {
  const accountFailures = store.rateLimiter({ keyPrefix: 'login-fail-acct', points: 1e9, duration: policy.resetSeconds });
  const accountLock = store.rateLimiter({ keyPrefix: 'login-lock-acct', points: 1, duration: policy.maxWaitSeconds });
  const ipFailures = store.rateLimiter({
    keyPrefix: 'login-fail-ip',
    points: policy.ipFailuresPerHour,
    duration: 3600,
    blockDuration: policy.ipBlockSeconds,
  });
  const ipAttempts = store.rateLimiter({ keyPrefix: 'login-ip', points: policy.loginsPerIpPerMinute, duration: 60 });

  const waitFor = (failures: number) =>
    Math.min(policy.maxWaitSeconds, policy.waitSeconds * 2 ** (failures - policy.freeFailures));

  /** consume() rejects with a RateLimiterRes when out of points, and with an Error on store failure. */
  const overLimit = async (attempt: Promise<unknown>): Promise<RateLimiterRes | undefined> => {
    try {
      await attempt;
      return undefined;
    } catch (err) {
      if (err instanceof RateLimiterRes) return err;
      throw err;
    }
  };

  return {
    /** Call before checking a password: may this attempt go ahead? Counts it against the IP's rate. */
    async check(login: string, ip: string): Promise<GuardVerdict> {
      const [lock, ipFail] = await Promise.all([accountLock.get(normalizeLogin(login)), ipFailures.get(ip)]);
      if (ipFail && ipFail.consumedPoints > policy.ipFailuresPerHour) {
        return { allowed: false, retryAfter: seconds(ipFail.msBeforeNext), reason: 'ip' };
      }
      if (lock && lock.consumedPoints > 1) return { allowed: false, retryAfter: seconds(lock.msBeforeNext), reason: 'account' };
      const rate = await overLimit(ipAttempts.consume(ip));
      if (rate) return { allowed: false, retryAfter: seconds(rate.msBeforeNext), reason: 'rate' };
      return { allowed: true };
    },

    /** Records a failed attempt; returns the failures now counted for the username. */
    async failed(login: string, ip: string): Promise<number> {
      const key = normalizeLogin(login);
      const [counted, ipCount] = await Promise.all([accountFailures.penalty(key, 1), ipFailures.penalty(ip, 1)]);
      const failures = counted.consumedPoints;
      if (failures >= policy.freeFailures) await accountLock.block(key, waitFor(failures));
      // Reaching the IP's hourly budget blocks it for ipBlockSeconds from now.
      if (ipCount.consumedPoints >= policy.ipFailuresPerHour) await ipFailures.block(ip, policy.ipBlockSeconds);
      return failures;
    },

    /** A success clears the username's failures (not the IP's). */
    async succeeded(login: string): Promise<void> {
      const key = normalizeLogin(login);
      await Promise.all([accountFailures.delete(key), accountLock.delete(key)]);
    },
  };
}

export type LoginGuard = ReturnType<typeof createLoginGuard>;
