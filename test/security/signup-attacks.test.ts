/**
 * Sign-up and email verification under attack: switched off, forged forms, taken names, other
 * domains, weak passwords, floods of sign-ups and of verification emails, and links that are
 * expired, used, made up, meant for something else or for an earlier address. Real server, real
 * HTTP, a real SMTP server in this process.
 */
import { randomBytes } from 'node:crypto';

import { createAccountLinks } from '../../src/accounts/account-links.js';
import { createAccountService } from '../../src/accounts/account-service.js';
import { bob, fieldError, noticeText, openSignup, postEmailStep, postSignup, signupSettings } from '../helpers/signup.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { UserAgent } from '../helpers/user-agent.js';
import { alice, expectErrorPage, get, openInteraction, serversPerTest, type Env } from './helpers.js';

const servers = serversPerTest();
let smtp: SmtpSink;
beforeEach(async () => {
  smtp = await startSmtpSink();
});
afterEach(() => smtp.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const accountsNamed = async (env: Env, login: string) => env.server.store.accounts.findByLogin(login);

test('sign-up is off by default: no link on the login page, and GET and POST /signup answer 404 with our error page', async () => {
  const env = await servers.start({ email: { smtpUrl: smtp.url } });
  const login = await openInteraction(env);
  expect(login.html).not.toContain('Create an account');
  expect(login.html).not.toContain('/signup');
  await expectErrorPage(await login.ua.request(new URL(`/interaction/${login.uid}/signup`, env.url)), 404, 'not_found');
  const posted = await postSignup(env, { ...login, csrf: login.csrf });
  await expectErrorPage(posted, 404, 'not_found');
  expect(await accountsNamed(env, bob.email)).toBeUndefined();
  expect(smtp.received).toHaveLength(0);
});

test('the sign-up form and the check-your-email buttons need their CSRF token', async () => {
  const env = await servers.start(signupSettings(smtp.url, { requireVerifiedEmail: true }));
  const page = await openSignup(env);
  await expectErrorPage(await postSignup(env, { ...page, csrf: 'forged' }), 403, 'invalid_request');
  expect(await accountsNamed(env, bob.email)).toBeUndefined();
  expect((await postSignup(env, page)).status).toBe(200);
  for (const step of ['resend', 'continue'] as const) await expectErrorPage(await postEmailStep(env, { ...page, csrf: '' }, step), 403, 'invalid_request');
  expect(smtp.received).toHaveLength(1);
});

test('a registered email (any case) or a taken username is refused in words, saying nothing else about the account', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  const taken = await postSignup(env, await openSignup(env), { email: 'ALICE@example.COM' });
  expect(taken.status).toBe(400);
  const html = await taken.text();
  expect(fieldError(html)).toBe('An account with this email address already exists. Sign in instead, or reset your password if you forgot it.');
  expect(html).not.toContain(alice.name);
  expect(html).not.toContain(alice.username);
  const username = await postSignup(env, await openSignup(env), { username: 'Alice' });
  expect(username.status).toBe(400);
  expect(fieldError(await username.text())).toBe('This username is taken. Choose another, or leave it empty to use your email address.');
  expect(await accountsNamed(env, bob.email)).toBeUndefined();
  expect((await env.server.store.accounts.list()).length).toBe(1);
});

test('signup.allowedEmailDomains: other domains are refused with a clear message; the listed ones (any case) sign up', async () => {
  const env = await servers.start(signupSettings(smtp.url, { allowedEmailDomains: ['example.org'] }));
  const page = await openSignup(env);
  expect(page.html).toContain('Use your address at example.org.');
  const refused = await postSignup(env, page, { email: 'bob@example.com' });
  expect(refused.status).toBe(400);
  expect(fieldError(await refused.text())).toBe('Addresses at example.com cannot sign up here. Use your address at example.org.');
  expect(await accountsNamed(env, 'bob@example.com')).toBeUndefined();
  const lookalike = await postSignup(env, await openSignup(env), { email: 'bob@example.org.evil.test' });
  expect(lookalike.status).toBe(400);
  expect((await postSignup(env, await openSignup(env), { email: 'bob@EXAMPLE.org' })).status).toBe(303);
  expect((await accountsNamed(env, 'bob@example.org'))!.emailVerified).toBe(false);
});

test('weak passwords are refused in words (English and Korean); the form keeps what was typed, never the password', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  const cases: [string, string][] = [
    ['short', 'Use at least 8 characters.'],
    ['iloveyou', 'This password is one of the most common ones and easy to guess. Choose another.'],
    [bob.email, 'Your password must not be your username or email address.'],
  ];
  for (const [password, words] of cases) {
    const res = await postSignup(env, await openSignup(env), { password });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(fieldError(html)).toBe(words);
    expect(html).toContain(`value="${bob.name}"`);
    const field = /<input id="password"[^>]*>/.exec(html)![0];
    expect(field).not.toContain('value=');
    expect(field).toContain('aria-invalid="true"');
  }
  const page = await openSignup(env);
  const korean = await postSignup(env, page, { password: 'short' }, { 'accept-language': 'ko' });
  expect(fieldError(await korean.text())).toBe('8자 이상 입력하세요.');
  expect(await accountsNamed(env, bob.email)).toBeUndefined();
});

test('sign-ups are limited per client address: past 5 an hour, 429 with Retry-After and the page, and nothing is created', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  for (let i = 1; i <= 5; i += 1) expect((await postSignup(env, await openSignup(env), { email: `user${i}@example.com` })).status).toBe(303);
  const res = await postSignup(env, await openSignup(env), { email: 'user6@example.com' });
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(3000);
  expect(noticeText(await res.text())).toBe('Too many accounts were created from your network. Try again in an hour.');
  expect(await accountsNamed(env, 'user6@example.com')).toBeUndefined();
});

test('"Send the email again" is limited: 3 verification emails an hour per account (the first included), then 429 with Retry-After', async () => {
  const env = await servers.start(signupSettings(smtp.url, { requireVerifiedEmail: true }));
  const page = await openSignup(env);
  expect((await postSignup(env, page)).status).toBe(200);
  for (let i = 0; i < 2; i += 1) expect((await postEmailStep(env, page, 'resend')).status).toBe(200);
  const limited = await postEmailStep(env, page, 'resend');
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(3000);
  expect(noticeText(await limited.text())).toBe('We have sent several emails already. Wait a while before asking for another.');
  await sleep(200);
  expect(smtp.received).toHaveLength(3);
  expect(new Set(smtp.received.map((m) => m.link)).size).toBe(3);
});

test('email links are built on the issuer URL, whatever X-Forwarded-Host the request carried', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  const page = await openSignup(env);
  expect((await postSignup(env, page, {}, { 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example' })).status).toBe(303);
  const mail = await smtp.next();
  expect(new URL(mail.link!).origin).toBe(env.url);
  expect(mail.raw).not.toContain('evil.example');
});

test('expired, used, made-up, malformed and reset links get the "no longer works" page (410, never a 500) and verify nothing; HEAD uses no link', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  const account = await createAccountService(env.server.store).create({ username: 'carol', email: 'carol@example.com', password: 'a long passphrase for carol' });
  const links = createAccountLinks(env.server.store);
  const verify = (query: string, method = 'GET') => fetch(`${env.url}/verify-email${query}`, { method, redirect: 'manual', headers: { accept: 'text/html' } });
  const expectDead = async (query: string) => {
    const res = await verify(query);
    expect([query, res.status]).toEqual([query, 410]);
    expect(await res.text()).toContain('This link no longer works');
  };

  const expired = await links.issue(account.id, 'verify-email', 1, { email: account.email! });
  await sleep(1100);
  await expectDead(`?token=${expired}`);

  // A password-reset link is for resetting: refused here, and left unused for its own purpose.
  const reset = await links.issue(account.id, 'reset-password', 600, { email: account.email! });
  await expectDead(`?token=${reset}`);
  expect(await links.peek(reset, 'reset-password')).toMatchObject({ accountId: account.id });

  const made = randomBytes(32).toString('base64url');
  for (const query of [`?token=${made}`, '?token=x', '', '?token=', `?token=${made}&token=${made}`, `?token=${'A'.repeat(5000)}`, '?token=%00%ff']) await expectDead(query);
  expect((await env.server.store.accounts.findById(account.id))!.emailVerified).toBe(false);

  const good = await links.issue(account.id, 'verify-email', 600, { email: account.email! });
  expect((await verify(`?token=${good}`, 'HEAD')).status).toBeLessThan(300);
  expect((await verify(`?token=${good}`)).status).toBe(200);
  expect((await env.server.store.accounts.findById(account.id))!.emailVerified).toBe(true);
  await expectDead(`?token=${good}`);
});

test('a verification link for an earlier address does nothing once the email changed', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  expect((await postSignup(env, await openSignup(env))).status).toBe(303);
  const mail = await smtp.next();
  const account = (await accountsNamed(env, bob.email))!;
  await env.server.store.accounts.setEmail(account.id, 'bob@example.net', false);
  const res = await get(mail.link!);
  expect(res.status).toBe(410);
  expect(await res.text()).toContain('This link no longer works');
  expect(await env.server.store.accounts.findById(account.id)).toMatchObject({ email: 'bob@example.net', emailVerified: false });
});

test('a held sign-in tells a wrong password nothing: the check-your-email page needs the right one', async () => {
  const env = await servers.start(signupSettings(smtp.url, { requireVerifiedEmail: true }));
  expect((await postSignup(env, await openSignup(env))).status).toBe(200);
  const login = await openInteraction(env, {}, new UserAgent());
  const res = await login.ua.postForm(new URL(`/interaction/${login.uid}/login`, env.url), { csrf: login.csrf, login: bob.email, password: 'wrong password here' });
  const html = await res.text();
  expect(html).toContain('The username or password is incorrect.');
  expect(html).not.toContain('Confirm your email address');
  // And its buttons do nothing for an interaction that holds no sign-in: back to the login page.
  const resend = await postEmailStep(env, login, 'resend');
  expect(resend.status).toBe(303);
  expect(resend.headers.get('location')).toBe(`/interaction/${login.uid}`);
  await sleep(200);
  expect(smtp.received).toHaveLength(1);
});
