import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { hash, verify } from '@node-rs/argon2';

/** @node-rs/argon2's Algorithm.Argon2id (a const enum, which isolated modules cannot import). */
const argon2id = 2;

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. */
const params = { algorithm: argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** An account made at a first sign-in through an upstream has no password: an empty hash. */
export const noPassword = '';

export const hasPassword = (account: { passwordHash: string }): boolean => account.passwordHash !== noPassword;

/** Too many password checks are already waiting: the caller should answer 503 with Retry-After. */
export class HashingBusyError extends Error {
  readonly code = 'ERR_HASHING_BUSY';
  readonly status = 503;
  constructor(readonly retryAfter: number) {
    super('too many sign-ins at once; try again in a moment');
  }
}

export interface PasswordOptions {
  /** hashes waiting for a turn beyond those running; past this, HashingBusyError */
  maxQueued: number;
  /** hashes at once (default: min(cores, 3)) */
  maxRunning?: number;
}

/**
 * Password hashing with argon2id, a bounded number at a time. Each hash holds 19 MiB and one of
 * libuv's 4 pool threads for ~10 ms of CPU; more of them than cores only queue inside the pool,
 * where they hold up the work that shares it (WebCrypto signing, file I/O). Past `maxRunning`,
 * callers wait their turn, first come first served; past `maxQueued` waiting, they are refused.
 */
export function createPasswords({ maxQueued, maxRunning = Math.max(1, Math.min(availableParallelism(), 3)) }: PasswordOptions) {
  let running = 0;
  const waiting: (() => void)[] = [];
  /** a running average of how long a verification takes (ms), for answers that skip one */
  let typicalMs = 50;

  async function inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (running < maxRunning) running += 1;
    else if (waiting.length >= maxQueued) throw new HashingBusyError(Math.max(1, Math.ceil((waiting.length * typicalMs) / maxRunning / 1000)));
    else await new Promise<void>((resolve) => waiting.push(resolve)); // the finisher hands over its slot
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  }

  async function timedVerify(passwordHash: string, password: string): Promise<boolean> {
    const started = performance.now();
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    } finally {
      typicalMs = typicalMs * 0.9 + (performance.now() - started) * 0.1;
    }
  }

  let dummyHash: Promise<string> | undefined;
  return {
    hash: (password: string): Promise<string> => inTurn(() => hash(password, params)),
    /** True when `password` matches; false for a wrong password or a malformed hash. */
    verify: (passwordHash: string, password: string): Promise<boolean> => inTurn(() => timedVerify(passwordHash, password)),
    /**
     * Spends the same time as a real check, for logins naming no account, so response time does
     * not reveal which usernames exist.
     */
    async verifyDummy(password: string): Promise<false> {
      dummyHash ??= hash('idport-dummy-password-for-timing', params);
      await inTurn(async () => timedVerify(await dummyHash!, password));
      return false;
    },
    /** Waits about as long as a verification takes, without doing one (no CPU). */
    async waitLikeVerify(): Promise<false> {
      await sleep(typicalMs);
      return false;
    },
  };
}

export type Passwords = ReturnType<typeof createPasswords>;
