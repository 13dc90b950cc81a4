import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { CounterStore } from '../storage/types.js';

export interface ChallengeDeps {
  /** the store's cookie keys (newest first): any node can check a challenge another node issued */
  secrets: () => readonly string[];
  counters: CounterStore;
  now?: () => number;
}

/**
 * WebAuthn challenges without server-side state until they are used: random, expiring, bound to
 * what they are for (an interaction, a session) by an HMAC under the store's cookie keys, and
 * single use (the first check claims it in the store's counters, across nodes).
 */
export function createChallenges({ secrets, counters, now = Date.now }: ChallengeDeps) {
  const mac = (secret: string, body: string) => createHmac('sha256', secret).update(`webauthn:${body}`).digest('base64url');

  return {
    /**
     * A challenge for `binding` (e.g. `login:<interaction uid>`), valid `ttlSeconds`. It is text:
     * @simplewebauthn/server sends a string challenge as its UTF-8 bytes, so the browser signs (and
     * use() receives) their base64url form.
     */
    issue(binding: string, ttlSeconds = 300): string {
      const body = `${randomBytes(16).toString('base64url')}.${now() + ttlSeconds * 1000}`;
      return `${body}.${mac(secrets()[0]!, `${binding}|${body}`)}`;
    },

    /**
     * The check for a challenge the authenticator signed (base64url, as clientDataJSON has it):
     * true once, when it was issued for `binding` by us, has not expired and was never used.
     */
    async use(binding: string, challenge: string): Promise<boolean> {
      const [nonce, expires, given] = Buffer.from(challenge, 'base64url').toString().split('.');
      if (!nonce || !expires || !given || Number(expires) <= now()) return false;
      const body = `${nonce}.${expires}`;
      const valid = secrets().some((secret) => {
        const expected = Buffer.from(mac(secret, `${binding}|${body}`));
        return expected.length === Buffer.byteLength(given) && timingSafeEqual(expected, Buffer.from(given));
      });
      if (!valid) return false;
      let fresh = false;
      await counters.update(`webauthn-challenge:${nonce}`, (current) => {
        fresh = current === undefined;
        return current ?? { state: { used: 1 }, expiresAt: Number(expires) };
      });
      return fresh;
    },
  };
}

export type Challenges = ReturnType<typeof createChallenges>;
