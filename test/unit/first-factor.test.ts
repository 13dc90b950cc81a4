import { firstFactorSeconds, pendingFirstFactor, twoFactorAmr } from '../../src/interactions/first-factor.js';
import type { Details } from '../../src/interactions/steps.js';

const at = 1_700_000_000_000;
const withResult = (result: unknown) => ({ result }) as unknown as Details;
const waiting = (firstFactor: unknown) => withResult({ idport: { firstFactor } });

describe('pendingFirstFactor', () => {
  test('a fresh first factor is returned; unknown amr values are dropped', () => {
    const found = waiting({ accountId: 'a1', at, amr: ['pwd', 'nonsense'] });
    expect(pendingFirstFactor(found, at + 1000)).toEqual({ accountId: 'a1', at, amr: ['pwd'] });
  });

  test(`after ${firstFactorSeconds} seconds it is expired; one from the future is not trusted`, () => {
    const found = waiting({ accountId: 'a1', at, amr: ['pwd'] });
    expect(pendingFirstFactor(found, at + firstFactorSeconds * 1000)).toMatchObject({ accountId: 'a1' });
    expect(pendingFirstFactor(found, at + firstFactorSeconds * 1000 + 1)).toBe('expired');
    expect(pendingFirstFactor(found, at - 120_000)).toBe('expired');
  });

  test('no result, a login result or anything malformed is no first factor', () => {
    expect(pendingFirstFactor(withResult(undefined), at)).toBeUndefined();
    expect(pendingFirstFactor(withResult({ login: { accountId: 'a1' } }), at)).toBeUndefined();
    expect(pendingFirstFactor(waiting({ accountId: 1, at, amr: [] }), at)).toBeUndefined();
    expect(pendingFirstFactor(waiting({ accountId: 'a1', at: String(at), amr: [] }), at)).toBeUndefined();
    expect(pendingFirstFactor(waiting({ accountId: 'a1', at }), at)).toBeUndefined();
  });
});

test('twoFactorAmr: the first factor, the second, then mfa, each once', () => {
  expect(twoFactorAmr({ accountId: 'a', at, amr: ['pwd'] }, 'otp')).toEqual(['pwd', 'otp', 'mfa']);
  expect(twoFactorAmr({ accountId: 'a', at, amr: ['pwd'] }, 'hwk')).toEqual(['pwd', 'hwk', 'mfa']);
  expect(twoFactorAmr({ accountId: 'a', at, amr: ['pwd', 'otp', 'mfa'] }, 'otp')).toEqual(['pwd', 'otp', 'mfa']);
});
