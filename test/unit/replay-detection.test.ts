import type Provider from 'oidc-provider';

import { atomicReplayDetection, dpopNonceSecret } from '../../src/provider/replay-detection.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/types.js';

let store: Store;
beforeEach(() => {
  store = openSqliteStore({ path: ':memory:' });
});
afterEach(() => store.close());

/** A stand-in with oidc-provider's ReplayDetection.unique (look up, then save: not atomic). */
function providerLike() {
  const seen = new Set<string>();
  class ReplayDetection {
    static async unique(iss: string, jti: string): Promise<boolean> {
      const id = `${iss}${jti}`;
      await new Promise((r) => setImmediate(r));
      if (seen.has(id)) return false;
      await new Promise((r) => setImmediate(r));
      seen.add(id);
      return true;
    }
  }
  return { ReplayDetection } as unknown as Provider & { ReplayDetection: typeof ReplayDetection };
}

const exp = () => Math.floor(Date.now() / 1000) + 60;

test('the look-up-then-save original lets parallel uses of one jti through; ours lets exactly one', async () => {
  const original = providerLike();
  const raced = await Promise.all(Array.from({ length: 5 }, () => original.ReplayDetection.unique('client', 'jti-1', exp())));
  expect(raced.filter(Boolean).length).toBeGreaterThan(1);

  const provider = providerLike();
  atomicReplayDetection(provider, store.counters);
  const ours = await Promise.all(Array.from({ length: 5 }, () => provider.ReplayDetection.unique('client', 'jti-1', exp())));
  expect(ours.filter(Boolean)).toHaveLength(1);
  // another jti, or the same jti from another issuer, is new
  expect(await provider.ReplayDetection.unique('client', 'jti-2', exp())).toBe(true);
  expect(await provider.ReplayDetection.unique('other-client', 'jti-1', exp())).toBe(true);
  expect(await provider.ReplayDetection.unique('client', 'jti-1', exp())).toBe(false);
});

test('two nodes on one store: a jti used on one is a replay on the other', async () => {
  const [a, b] = [providerLike(), providerLike()];
  atomicReplayDetection(a, store.counters);
  atomicReplayDetection(b, store.counters);
  const both = await Promise.all([a.ReplayDetection.unique('c', 'x', exp()), b.ReplayDetection.unique('c', 'x', exp())]);
  expect(both.filter(Boolean)).toHaveLength(1);
});

test('the DPoP nonce secret: 32 bytes, the same from the same cookie key, another from another', () => {
  const one = dpopNonceSecret(['cookie-key-1', 'older']);
  expect(one).toHaveLength(32);
  expect(dpopNonceSecret(['cookie-key-1'])).toEqual(one);
  expect(dpopNonceSecret(['cookie-key-2', 'cookie-key-1'])).not.toEqual(one);
  // never the cookie key itself
  expect(one.toString('utf8')).not.toContain('cookie-key-1');
  expect(() => dpopNonceSecret([])).toThrow(/no cookie key/);
});
