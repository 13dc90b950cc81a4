import pino from 'pino';

import { createAccountLinks } from '../../src/accounts/account-links.js';
import { createAccountService } from '../../src/accounts/account-service.js';
import { createEmailVerification, verificationSendLimit } from '../../src/accounts/email-verification.js';
import { passwordProblem } from '../../src/accounts/password-policy.js';
import { createSignupHolds } from '../../src/accounts/signup-holds.js';
import { createSignupService, defaultUsername, type SignupInput } from '../../src/accounts/signup-service.js';
import type { Email } from '../../src/email/create-email.js';
import { MailUnavailableError } from '../../src/email/mailer.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { AccountRecord, Store } from '../../src/storage/types.js';
import { TestClock } from '../contract/store-contract.js';

let store: Store;
let clock: TestClock;
beforeEach(() => {
  clock = new TestClock();
  store = openSqliteStore({ path: ':memory:', now: clock.now });
});
afterEach(() => store.close());

const policy = { minLength: 8, maxLength: 256 };
const form: SignupInput = { email: 'bob@example.com', name: 'Bob', username: '', password: 'a long passphrase for bob' };
const service = (allowedEmailDomains: string[] = []) =>
  createSignupService({ store, accounts: createAccountService(store), signup: { enabled: true, allowedEmailDomains, requireVerifiedEmail: false }, passwords: policy });
const keys = (input: Partial<SignupInput>, domains?: string[]) => service(domains).check({ ...form, ...input }).map((p) => `${p.field}:${p.key.replace('signup.errors.', '')}`);

let n = 0;
const account = (email: string | null, emailVerified = false): Promise<AccountRecord> =>
  store.accounts.create({ id: `acct-${++n}`, username: `user${n}`, email, emailVerified, name: null, passwordHash: 'x', claims: {} });

describe('the sign-up form', () => {
  test('each field says what is wrong, in catalogue keys (the page puts them in words)', () => {
    expect(keys({})).toEqual([]);
    expect(keys({ email: '', name: '' })).toEqual(['email:emailRequired', 'name:nameRequired']);
    expect(keys({ email: 'bob@', name: 'x'.repeat(101) })).toEqual(['email:emailInvalid', 'name:nameInvalid']);
    expect(keys({ name: 'Bob\nBuilder' })).toEqual(['name:nameInvalid']);
    expect(keys({ username: 'bob builder' })).toEqual(['username:usernameInvalid']);
    expect(keys({ username: '밥_b' })).toEqual([]);
    expect(keys({ password: 'short' })).toEqual(['password:passwordTooShort']);
    expect(keys({ password: 'password' })).toEqual(['password:passwordCommon']);
    expect(keys({ username: 'bob_builder7', password: 'Bob_Builder7' })).toEqual(['password:passwordOwn']);
    expect(service().check({ ...form, password: 'x'.repeat(257) })[0]).toMatchObject({ params: { max: 256 } });
  });

  test('allowed domains: the whole domain after the last @, any case; no suffix or subdomain tricks', () => {
    const domains = ['example.org', 'Corp.Example'];
    expect(keys({ email: 'bob@example.org' }, domains)).toEqual([]);
    expect(keys({ email: 'bob@CORP.example' }, domains)).toEqual([]);
    for (const email of ['bob@example.com', 'bob@example.org.evil.test', 'bob@sub.example.org', 'bob@notexample.org']) {
      expect(keys({ email }, domains)).toEqual(['email:emailDomain']);
    }
    expect(service(domains).check({ ...form, email: 'bob@x.test' })[0]!.params).toEqual({ domain: 'x.test', domains: 'example.org, corp.example' });
  });

  test('without a username the email is the username, or a generated one when the email cannot be', () => {
    expect(defaultUsername('bob@example.com')).toBe('bob@example.com');
    expect(defaultUsername("o'brien@example.com")).toMatch(/^user-[0-9a-f]{12}$/);
    expect(defaultUsername(`${'a'.repeat(60)}@example.com`)).toMatch(/^user-/);
  });

  test('passwordProblem gives stable codes; checkNewPassword keeps its English words', () => {
    expect(passwordProblem('short', policy)).toEqual({ code: 'too_short', min: 8 });
    expect(passwordProblem('x'.repeat(300), policy)).toEqual({ code: 'too_long', max: 256 });
    expect(passwordProblem('iloveyou', policy)).toEqual({ code: 'common' });
    expect(passwordProblem('bob@example.com', policy, { email: 'bob@example.com' })).toEqual({ code: 'own_name' });
    expect(passwordProblem('a long passphrase', policy)).toBeUndefined();
  });

  test('a new account is unverified and marked as signed up; the mark goes when the address is verified', async () => {
    const result = await service().signUp(form, '192.0.2.1');
    if (result.outcome !== 'created') throw new Error(result.outcome);
    expect(result.account).toMatchObject({ username: 'bob@example.com', emailVerified: false });
    const holds = createSignupHolds(store);
    expect(await holds.held(result.account)).toBe(true);
    expect(await holds.held(await account('carol@example.com'))).toBe(false);
    await holds.release(result.account.id);
    expect(await holds.held(result.account)).toBe(false);
  });
});

describe('verification emails', () => {
  const sent: { to: string; link: string; locale: string }[] = [];
  let fail: Error | undefined;
  const email = { send: async (_kind: string, locale: string, v: { to: string; link: string }) => {
    if (fail) throw fail;
    sent.push({ to: v.to, link: v.link, locale });
  } } as unknown as Email;
  const warnings: unknown[] = [];
  const verification = () => createEmailVerification({
    store, links: createAccountLinks(store), email, issuer: 'https://id.example.test', logger: { warn: (o: unknown) => warnings.push(o) } as unknown as pino.Logger,
  });
  beforeEach(() => {
    sent.length = 0;
    warnings.length = 0;
    fail = undefined;
  });

  test('links on the issuer URL; limited per account and per address (3 an hour), whichever account asks', async () => {
    const v = verification();
    const first = await account('dave@example.com');
    for (let i = 0; i < verificationSendLimit.limit; i += 1) expect(await v.send(first, 'ko')).toEqual({ outcome: 'sent' });
    expect(await v.send(first, 'en')).toEqual({ outcome: 'limited', retryAfter: 3600 });
    expect(sent.every((m) => m.link.startsWith('https://id.example.test/verify-email?token=') && m.locale === 'ko')).toBe(true);

    // Another account with that address (the first one deleted) is still limited: per address.
    await store.accounts.remove(first.id);
    const second = await account('DAVE@example.com');
    expect((await v.send(second, 'en')).outcome).toBe('limited');
    clock.advance(3601);
    expect((await v.send(second, 'en')).outcome).toBe('sent');
  });

  test('nothing to verify without an address or once verified; a mail failure is "unavailable", logged, and no 500', async () => {
    const v = verification();
    expect(await v.send(await account(null), 'en')).toEqual({ outcome: 'nothing-to-verify' });
    expect(await v.send(await account('erin@example.com', true), 'en')).toEqual({ outcome: 'nothing-to-verify' });
    fail = new MailUnavailableError('no SMTP');
    expect(await v.send(await account('frank@example.com'), 'en')).toEqual({ outcome: 'unavailable' });
    fail = new Error('ECONNREFUSED');
    expect(await v.send(await account('gina@example.com'), 'en')).toEqual({ outcome: 'unavailable' });
    expect(warnings).toHaveLength(2);
  });

  test('a mail server that does not answer holds the page only waitMs: the email goes on in the background', async () => {
    let deliver: (() => void) | undefined;
    const stuck = { send: () => new Promise<void>((resolve) => (deliver = resolve)) } as unknown as Email;
    const v = createEmailVerification({ store, links: createAccountLinks(store), email: stuck, issuer: 'https://id.example.test', logger: pino({ level: 'silent' }), waitMs: 50 });
    const started = Date.now();
    expect(await v.send(await account('hal@example.com'), 'en')).toEqual({ outcome: 'sent' });
    expect(Date.now() - started).toBeLessThan(1000);
    deliver!();
  });

  test('a link verifies the address it was sent to, once, and releases the sign-up hold; in the language of its email', async () => {
    const v = verification();
    const holds = createSignupHolds(store);
    const carol = await account('carol@example.com');
    await holds.mark(carol.id);
    await v.send(carol, 'ko');
    const token = new URL(sent[0]!.link).searchParams.get('token')!;
    expect(await v.confirm(token)).toEqual({ outcome: 'verified', accountId: carol.id, email: 'carol@example.com', locale: 'ko' });
    expect(await v.confirm(token)).toEqual({ outcome: 'invalid' });
    expect(await holds.held((await store.accounts.findById(carol.id))!)).toBe(false);
  });
});
