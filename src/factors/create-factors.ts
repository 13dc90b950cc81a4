import type { Store } from '../storage/types.js';
import { createChallenges } from './challenges.js';
import { createFactorService } from './factor-service.js';
import { createPasskeys } from './passkeys.js';

export interface FactorsDeps {
  store: Store;
  /** the public issuer URL (the passkeys' RP ID and origin) */
  issuer: string;
  productName: string;
  /** the store's cookie keys, newest first (challenges are signed with them) */
  cookieKeys: () => readonly string[];
  kek?: Uint8Array | undefined;
}

/** Passkeys, TOTP and recovery codes, wired to the store: what the sign-in and account pages use. */
export function createFactors({ store, issuer, productName, cookieKeys, kek }: FactorsDeps) {
  const challenges = createChallenges({ secrets: cookieKeys, counters: store.counters });
  return {
    challenges,
    passkeys: createPasskeys({ issuer, productName, factors: store.factors, challenges }),
    service: createFactorService({ factors: store.factors, counters: store.counters, kek, issuerName: productName }),
  };
}

export type Factors = ReturnType<typeof createFactors>;
