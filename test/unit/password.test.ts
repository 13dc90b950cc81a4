import { hashPassword, verifyPassword } from '../../src/accounts/password.js';

describe('password hashing', () => {
  test('argon2id at OWASP parameters; many checks at once all get their own answer', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // More than the hashing limit (at most 3 at once): the rest wait their turn, none is lost.
    const guesses = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'correct horse battery staple' : `wrong ${i}`));
    expect(await Promise.all(guesses.map((g) => verifyPassword(hash, g)))).toEqual(guesses.map((_, i) => i % 2 === 0));
  });

  test('a check that fails (malformed hash) gives false and frees its turn', async () => {
    const bad = await Promise.all(Array.from({ length: 8 }, () => verifyPassword('not-an-argon2-hash', 'x')));
    expect(bad).toEqual(Array(8).fill(false));
    const hash = await hashPassword('another passphrase');
    expect(await verifyPassword(hash, 'another passphrase')).toBe(true);
  });
});
