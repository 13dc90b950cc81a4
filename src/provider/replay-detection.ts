import { createHash, hkdfSync } from 'node:crypto';

import type Provider from 'oidc-provider';

import type { CounterStore } from '../storage/types.js';

/**
 * oidc-provider's replay detection (DPoP proofs, private_key_jwt and attestation `jti`s) looks a
 * jti up, then saves it: two nodes given the same proof at once could both find nothing and both
 * accept it. Ours is one atomic step in the store (CounterStore.update, applied one after another
 * per key on every node): of any number of uses of one jti, exactly one is new.
 */
export function atomicReplayDetection(provider: Provider, counters: CounterStore): void {
  const ReplayDetection = provider.ReplayDetection as unknown as { unique(iss: string, jti: string, exp: number): Promise<boolean> };
  ReplayDetection.unique = async (iss, jti, exp) => {
    const key = `replay:${createHash('sha256').update(`${iss}\0${jti}`).digest('base64url')}`;
    // until the proof or assertion expires anyway (oidc-provider's own exp), at least a minute
    const expiresAt = Math.max(exp * 1000, Date.now() + 60_000);
    let fresh = false;
    await counters.update(key, (current) => {
      // the last call is the one stored: its answer is the one that counts
      fresh = current === undefined;
      return current ?? { state: { seen: 1 }, expiresAt };
    });
    return fresh;
  };
}

/**
 * The DPoP nonce secret: derived from the newest cookie key (HKDF-SHA256), so every node has the
 * same one from the store with no secret of its own, and it rotates with the cookie keys
 * (`idport keys rotate --cookies`); clients holding an old nonce get `use_dpop_nonce` and a new one.
 */
export function dpopNonceSecret(cookieKeys: readonly string[]): Buffer {
  const newest = cookieKeys[0];
  if (!newest) throw new Error('no cookie key to derive the DPoP nonce secret from');
  return Buffer.from(hkdfSync('sha256', newest, 'idport', 'dpop nonce secret', 32));
}
