import { availableParallelism } from 'node:os';

import { hash, verify } from '@node-rs/argon2';

/** @node-rs/argon2's Algorithm.Argon2id (a const enum, which isolated modules cannot import). */
const argon2id = 2;

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. */
const params = { algorithm: argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * At most this many hashes at once. Each holds 19 MiB and one of libuv's 4 pool threads for
 * ~10 ms of CPU; more of them than cores only queue inside the pool, where they hold up the work
 * that shares it (WebCrypto signing of ID tokens, file I/O) and add to peak memory. Past the
 * limit, callers wait their turn here, first come first served.
 */
const maxHashing = Math.max(1, Math.min(availableParallelism(), 3));
let hashing = 0;
const waiting: (() => void)[] = [];

async function oneAtATurn<T>(work: () => Promise<T>): Promise<T> {
  if (hashing < maxHashing) hashing += 1;
  else await new Promise<void>((resolve) => waiting.push(resolve)); // the finisher hands over its slot
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else hashing -= 1;
  }
}

export const hashPassword = (password: string): Promise<string> => oneAtATurn(() => hash(password, params));

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await oneAtATurn(() => verify(passwordHash, password));
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;
/**
 * Spends the same time as a real check, for logins naming no account, so response time
 * does not reveal which usernames exist.
 */
export async function verifyDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword('idport-dummy-password-for-timing');
  await verifyPassword(await dummyHash, password);
  return false;
}
