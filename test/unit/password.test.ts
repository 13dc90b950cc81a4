import { createPasswords, HashingBusyError } from '../../src/accounts/password.js';

describe('password hashing', () => {
  test('argon2id at OWASP parameters; many checks at once all get their own answer', async () => {
    const passwords = createPasswords({ maxQueued: 64 });
    const hash = await passwords.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // More than the hashing limit (at most 3 at once): the rest wait their turn, none is lost.
    const guesses = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'correct horse battery staple' : `wrong ${i}`));
    expect(await Promise.all(guesses.map((g) => passwords.verify(hash, g)))).toEqual(guesses.map((_, i) => i % 2 === 0));
  });

  test('a check that fails (malformed hash) gives false and frees its turn', async () => {
    const passwords = createPasswords({ maxQueued: 64 });
    const bad = await Promise.all(Array.from({ length: 8 }, () => passwords.verify('not-an-argon2-hash', 'x')));
    expect(bad).toEqual(Array(8).fill(false));
    const hash = await passwords.hash('another passphrase');
    expect(await passwords.verify(hash, 'another passphrase')).toBe(true);
  });

  test('the queue is bounded: past maxRunning + maxQueued, checks are refused at once with a retry time', async () => {
    const passwords = createPasswords({ maxQueued: 2, maxRunning: 1 });
    const hash = await passwords.hash('a long passphrase here');
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => passwords.verify(hash, 'a long passphrase here')));
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<boolean>).value)).toEqual([true, true, true]);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as HashingBusyError);
    expect(refused).toHaveLength(3);
    for (const err of refused) expect(err).toMatchObject({ code: 'ERR_HASHING_BUSY', status: 503, retryAfter: expect.any(Number) });
    // once the queue drains, checks run again
    expect(await passwords.verify(hash, 'a long passphrase here')).toBe(true);
  });
});
