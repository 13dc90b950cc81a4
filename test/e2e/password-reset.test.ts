/**
 * Password reset over real HTTP with a real SMTP server: "Forgot password?" on the login page,
 * the emailed link (on the issuer URL), the new password, and what the reset ends (old refresh
 * tokens, old browser sessions). Links that do not work (used, expired, superseded, made for
 * verifying an email) get a page saying so, never a 500.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { createAccountLinks } from '../../src/accounts/account-links.js';
import { createAccountService, defaultPasswordPolicy } from '../../src/accounts/account-service.js';
import { createPasswordReset } from '../../src/accounts/password-reset.js';
import type { Email } from '../../src/email/create-email.js';
import { resetLink, startMailbox, type Mailbox } from '../helpers/mailbox.js';
import { headingOf, openForgot, requestReset, useResetLink } from '../helpers/self-service.js';
import { addUser, authUrl, expectBackAtClient, freshCode, get, redeem, setup, startTestServer, tokenRequest, UserAgent, type Env } from '../security/helpers.js';

let mailbox: Mailbox;
let env: Env;
beforeAll(async () => {
  mailbox = await startMailbox();
  env = await setup({ email: { smtpUrl: mailbox.url }, proxy: true });
});
afterAll(async () => {
  await env.server.stop();
  await mailbox.close();
});

let n = 0;
/** A user of the test's own (each test may use up its per-address sends), and an address of its own to send from. */
async function newUser() {
  n += 1;
  const user = { username: `user${n}`, password: `user${n} has a long passphrase`, email: `User${n}@Example.com`, name: `User ${n}` };
  return { user, id: (await addUser(env.server.store, user)).id, from: { 'x-forwarded-for': `198.51.100.${n}` } };
}

/** Asks for a reset link for `email` and returns it from the mail. */
async function resetLinkFor(email: string, headers: Record<string, string>) {
  const sent = await requestReset(await openForgot(env.url), email, headers);
  expect([sent.status, headingOf(sent.html)]).toEqual([200, 'Check your email']);
  return resetLink(await mailbox.next(email));
}

test('forgot → email → new password: the old refresh token is refused, old sessions end, the new password signs in', async () => {
  const { user, from } = await newUser();
  const before = await freshCode(env, { scope: 'openid offline_access', prompt: 'consent' }, undefined, user);
  const tokens = await redeem(env, before.code, before.verifier);
  expect(tokens.status).toBe(200);

  const forgot = await openForgot(env.url);
  expect(headingOf(forgot.html)).toBe('Forgot your password?');
  expect(forgot.html).toContain('autocomplete="email"');
  const sent = await requestReset(forgot, user.email.toUpperCase(), from);
  expect(sent.html).toContain(`If an account uses ${user.email.toUpperCase()}, we have sent it a link`);
  expect(sent.html).toContain(`href="${forgot.action.pathname.replace(/\/forgot$/, '')}"`); // back to sign in

  const mail = await mailbox.next(user.email);
  expect(mail.subject).toBe('Reset your idport password');
  expect(mail.text).toContain('The link works once, for 15 minutes.');
  const link = resetLink(mail);
  expect(link.origin).toBe(env.url);

  // A password the policy refuses: the form again, and the link still works.
  const weak = await useResetLink(link, 'password');
  expect(weak.status).toBe(400);
  expect(weak.html).toContain('This password is one of the most common ones');
  const done = await useResetLink(link, 'a brand new passphrase');
  expect(done.form).toContain(`Choose a new password for ${user.username}.`);
  expect([done.status, headingOf(done.html)]).toEqual([200, 'Password changed']);
  expect(done.html).toContain('href="/account"');

  const refreshed = await tokenRequest(env, { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token) });
  expect([refreshed.status, refreshed.body.error]).toEqual([400, 'invalid_grant']);
  const silent = expectBackAtClient(await before.ua.request(authUrl(env, { prompt: 'none' })));
  expect(silent.get('error')).toBe('login_required');
  expect((await before.ua.request(`${env.url}/account`)).status).toBe(302);
  await expect(freshCode(env, {}, undefined, user)).rejects.toThrow();
  await freshCode(env, {}, undefined, { ...user, password: 'a brand new passphrase' });
});

test('a used link, an expired link, a verification link and a made-up one get a page saying so, never a 500', async () => {
  const { user, id, from } = await newUser();
  const link = await resetLinkFor(user.email, from);
  const first = await useResetLink(link, 'first new passphrase');
  expect(first.status).toBe(200);
  const again = await useResetLink(link, 'second new passphrase');
  expect([again.status, headingOf(again.html)]).toEqual([410, 'This link no longer works']);
  // Posting the used link's form once more changes nothing either.
  const stored = await env.server.store.accounts.findById(id);
  const posted = await fetch(`${env.url}/reset-password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(first.form)![1]!, token: link.searchParams.get('token')!, password: 'third new passphrase' }),
  });
  expect([posted.status, headingOf(await posted.text())]).toEqual([410, 'This link no longer works']);
  expect((await env.server.store.accounts.findById(id))!.passwordHash).toBe(stored!.passwordHash);

  // Expired: a link issued by the same code with a 1-second lifetime.
  const email = {} as Email;
  const reset = createPasswordReset({
    accounts: createAccountService(env.server.store),
    links: createAccountLinks(env.server.store),
    email,
    counters: env.server.store.counters,
    issuer: env.url,
    policy: defaultPasswordPolicy,
    audit: () => undefined,
    linkSeconds: 1,
  });
  const short = new URL(await reset.issueLink((await env.server.store.accounts.findById(id))!, 'en'));
  expect((await get(short)).status).toBe(200);
  await sleep(1100);
  const expired = await get(short);
  expect([expired.status, headingOf(await expired.text())]).toEqual([410, 'This link no longer works']);

  const verify = await createAccountLinks(env.server.store).issue(id, 'verify-email', 600, { email: user.email });
  for (const token of [verify, 'x'.repeat(43), '', '../../etc/passwd', 'a'.repeat(5000)]) {
    const res = await get(`${env.url}/reset-password?token=${encodeURIComponent(token)}`);
    expect([token.slice(0, 10), res.status, headingOf(await res.text())]).toEqual([token.slice(0, 10), 410, 'This link no longer works']);
  }
});

test('a new request makes the earlier link stop working; a changed email does too', async () => {
  const { user, id, from } = await newUser();
  const earlier = await resetLinkFor(user.email, from);
  const later = await resetLinkFor(user.email, from);
  expect((await get(earlier)).status).toBe(410);
  expect((await get(later)).status).toBe(200);
  await env.server.store.accounts.setEmail(id, `new.${user.email}`, true);
  expect((await get(later)).status).toBe(410);
});

test('in Korean when the sign-in asked for it: the pages, the email and the page its link opens', async () => {
  const { user, from } = await newUser();
  const forgot = await openForgot(env.url, undefined, authUrl(env, { ui_locales: 'ko' }).href);
  expect(forgot.html).toContain('<html lang="ko">');
  expect(headingOf(forgot.html)).toBe('비밀번호를 잊으셨나요?');
  const sent = await requestReset(forgot, user.email, from);
  expect(headingOf(sent.html)).toBe('이메일을 확인하세요');
  const mail = await mailbox.next(user.email);
  expect(mail.subject).toBe('idport 비밀번호 재설정');
  const page = await (await get(resetLink(mail), { 'accept-language': 'en' })).text();
  expect(page).toContain('<html lang="ko">');
  expect(page).toContain(`${user.username} 계정의 새 비밀번호를 정하세요.`);
});

test('with passwordReset.enabled false there is no link, and /forgot and /reset-password are not found', async () => {
  const off = await startTestServer({ passwordReset: { enabled: false } });
  try {
    const login = await new UserAgent().follow(`${off.url}/account`, off.url);
    const html = await login.page!.text();
    expect(html).toContain('name="password"');
    expect(html).not.toContain('/forgot');
    expect((await get(`${login.url.href}/forgot`)).status).toBe(404);
    expect((await get(`${off.url}/reset-password?token=${'a'.repeat(43)}`)).status).toBe(404);
  } finally {
    await off.stop();
  }
});
