/**
 * Second-factor secrets at rest: a TOTP secret is sealed under IDPORT_KEK when one is set (as
 * private keys are), recovery codes are stored only as hashes, and a TOTP code works once, even
 * when two nodes check it at the same moment.
 */
import { randomBytes } from 'node:crypto';

import { createFactorService } from '../../src/factors/factor-service.js';
import { base32Decode, hotp, totpStep } from '../../src/factors/totp.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/types.js';

let store: Store;
beforeEach(() => {
  store = openSqliteStore({ path: ':memory:' });
});
afterEach(() => store.close());

const currentCode = (secret: string) => hotp(base32Decode(secret)!, totpStep(Date.now()));

test('with IDPORT_KEK the TOTP secret is stored sealed (no base32 secret in the store); codes still verify', async () => {
  const kek = new Uint8Array(randomBytes(32));
  const service = createFactorService({ factors: store.factors, counters: store.counters, kek, issuerName: 'idport' });
  const { secret } = service.newTotp('alice');
  await service.confirmTotp('acct1', secret, currentCode(secret));
  const stored = await store.factors.getTotp('acct1');
  expect(Object.keys(stored!.material)).toEqual(['jwe']);
  expect(JSON.stringify(stored)).not.toContain(secret);
  // a different node with the same KEK verifies the next code
  const other = createFactorService({ factors: store.factors, counters: store.counters, kek, issuerName: 'idport' });
  const next = hotp(base32Decode(secret)!, totpStep(Date.now()) + 1);
  expect(await other.verifyCode('acct1', next)).toBe('totp');
});

test('recovery codes are stored only as hashes, and each works once', async () => {
  const service = createFactorService({ factors: store.factors, counters: store.counters, issuerName: 'idport' });
  const codes = await service.newRecoveryCodes('acct1');
  expect(await service.verifyCode('acct1', codes[3]!)).toBe('recovery');
  expect(await service.verifyCode('acct1', codes[3]!)).toBeUndefined();
  expect(await store.factors.countRecoveryCodes('acct1')).toBe(9);
  // nothing in the store is a code as shown or typed
  for (const code of codes) expect(await store.factors.useRecoveryCode('acct1', code)).toBe(false);
});

test('a TOTP code checked by two nodes at the same moment is accepted once (replay refused across nodes)', async () => {
  const a = createFactorService({ factors: store.factors, counters: store.counters, issuerName: 'idport' });
  const b = createFactorService({ factors: store.factors, counters: store.counters, issuerName: 'idport' });
  const { secret } = a.newTotp('alice');
  await a.confirmTotp('acct1', secret, hotp(base32Decode(secret)!, totpStep(Date.now()) - 1));
  const code = currentCode(secret);
  const results = await Promise.all([a.verifyCode('acct1', code), b.verifyCode('acct1', code), a.verifyCode('acct1', code)]);
  expect(results.filter((r) => r === 'totp')).toHaveLength(1);
});
