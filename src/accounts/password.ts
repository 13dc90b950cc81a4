import { hash, verify } from '@node-rs/argon2';

/** @node-rs/argon2's Algorithm.Argon2id (a const enum, which isolated modules cannot import). */
const argon2id = 2;

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. */
const params = { algorithm: argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string): Promise<string> => hash(password, params);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
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
