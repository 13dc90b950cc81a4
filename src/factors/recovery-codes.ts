import { createHash, randomBytes } from 'node:crypto';

import { base32Encode } from './totp.js';

export const recoveryCodeCount = 10;

/** The form a recovery code is compared in: no separators, upper case. */
const normalise = (code: string) => code.replace(/[\s-]/g, '').toUpperCase();

/**
 * A recovery code's stored form. 80 random bits per code make a fast hash enough: they cannot be
 * guessed offline, and online guesses count against the account's lock.
 */
export const hashRecoveryCode = (code: string): string => createHash('sha256').update(`idport-recovery:${normalise(code)}`).digest('base64url');

/** Ten new single-use codes (16 base32 characters, shown as XXXX-XXXX-XXXX-XXXX) and their hashes. */
export function newRecoveryCodes(count = recoveryCodeCount): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: count }, () => base32Encode(randomBytes(10)).match(/.{4}/g)!.join('-'));
  return { codes, hashes: codes.map(hashRecoveryCode) };
}

/** Looks like a recovery code (so a sign-in form can tell it from a 6-digit TOTP code). */
export const looksLikeRecoveryCode = (text: string) => /^[A-Z2-7]{16}$/.test(normalise(text));
