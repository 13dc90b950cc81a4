import { base32Decode, base32Encode, hotp, matchTotp, newTotpSecret, otpauthUri } from '../../src/factors/totp.js';
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes } from '../../src/factors/recovery-codes.js';

const rfcSecret = Buffer.from('12345678901234567890');

describe('TOTP (RFC 6238) and HOTP (RFC 4226)', () => {
  test('HOTP matches RFC 4226 appendix D', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expect(expected.map((_, i) => hotp(rfcSecret, i))).toEqual(expected);
  });

  test('TOTP matches RFC 6238 appendix B (SHA-1, last 6 of its 8 digits)', () => {
    const vectors: [number, string][] = [[59, '287082'], [1111111109, '081804'], [1111111111, '050471'], [1234567890, '005924'], [2000000000, '279037'], [20000000000, '353130']];
    for (const [seconds, code] of vectors) expect([seconds, hotp(rfcSecret, Math.floor(seconds / 30))]).toEqual([seconds, code]);
  });

  test('a code matches its own step and one step either side, nothing further, nothing malformed', () => {
    const at = 1111111111 * 1000;
    const step = Math.floor(1111111111 / 30);
    expect(matchTotp(rfcSecret, '050471', at)).toBe(step);
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step - 1), at)).toBe(step - 1);
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step + 1), at)).toBe(step + 1);
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step + 2), at)).toBeUndefined();
    expect(matchTotp(rfcSecret, hotp(rfcSecret, step - 2), at)).toBeUndefined();
    for (const bad of ['', '05047', '0504711', 'abcdef', '05 0471x']) expect(matchTotp(rfcSecret, bad, at)).toBeUndefined();
  });

  test('base32 round-trips (RFC 4648 vectors), and secrets are 20 random bytes', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('mzxw6ytboi======')?.toString()).toBe('foobar');
    expect(base32Decode('not base32!')).toBeUndefined();
    const secret = newTotpSecret();
    expect(base32Decode(secret)).toHaveLength(20);
    expect(newTotpSecret()).not.toBe(secret);
  });

  test('the otpauth URI names the product, the account and the parameters apps need', () => {
    expect(otpauthUri({ issuer: 'Acme ID', account: 'alice', secret: 'JBSWY3DPEHPK3PXP' })).toBe(
      'otpauth://totp/Acme%20ID%3Aalice?secret=JBSWY3DPEHPK3PXP&issuer=Acme+ID&algorithm=SHA1&digits=6&period=30',
    );
  });
});

describe('recovery codes', () => {
  test('ten codes of 80 random bits, shown grouped, stored hashed, matched however they are typed', () => {
    const { codes, hashes } = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
    expect(hashes[0]).toBe(hashRecoveryCode(codes[0]!.toLowerCase().replace(/-/g, ' ')));
    expect(hashes[0]).not.toContain(codes[0]!.replace(/-/g, ''));
    expect(looksLikeRecoveryCode(codes[0]!)).toBe(true);
    expect(looksLikeRecoveryCode('123456')).toBe(false);
  });
});
