/**
 * The /account additions under attack and in use: a new password or email, or deleting the
 * account, needs the current password (checked against the sign-in lock), the page's CSRF token
 * and a recent sign-in; where the account is signed in, and signing out elsewhere, ends exactly
 * those sessions and their tokens. Audit events name who and what, never a password.
 */
import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startServer } from '../../src/server.js';
import { openStore } from '../../src/storage/open-store.js';
import { checkedStore } from '../helpers/checked-store.js';
import { addClient, discover, loginAndRedeem } from '../helpers/flow.js';
import { startMailbox, type Mailbox } from '../helpers/mailbox.js';
import { tempDir } from '../helpers/server.js';
import { chromeOnLinux, firefoxOnWindows, headingOf, NamedBrowser, safariOnIphone, signInToAccount } from '../helpers/self-service.js';
import { addUser, csrfFrom, UserAgent } from './helpers.js';

const logs: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const audits = (event: string) => logs.filter((l) => l.kind === 'audit' && l.audit === event);

async function start(overrides: Partial<ConfigInput> = {}) {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${tempDir()}/idport.db`, ...overrides });
  const store = checkedStore(await openStore(config.databaseUrl, {}, config.mongo));
  const server = await startServer(config, { logger: pino({ level: 'info' }, sink), store });
  const client = await addClient(store);
  const rp = await discover(server.url, client.client_id, client.client_secret);
  return { store, url: server.url, rp, stop: async () => (await server.close(), await store.close(), expect(store.violations).toEqual([])) };
}

let mailbox: Mailbox;
let env: Awaited<ReturnType<typeof start>>;
beforeAll(async () => {
  mailbox = await startMailbox();
  env = await start({ email: { smtpUrl: mailbox.url }, bruteForce: { freeFailures: 3 } });
});
afterAll(async () => {
  await env.stop();
  await mailbox.close();
});

let n = 0;
async function newUser() {
  n += 1;
  const user = { username: `member${n}`, password: `member${n} has a long passphrase`, email: `member${n}@example.com`, name: `Member ${n}` };
  return { user, id: (await addUser(env.store, user)).id };
}
const post = (ua: UserAgent, path: string, form: Record<string, string>) => ua.postForm(`${env.url}${path}`, form);
/** Whether a browser is still signed in (its /account page answers instead of sending it to sign in). */
const signedIn = async (ua: UserAgent) => (await ua.request(`${env.url}/account`)).status === 200;
/** Whether a refresh token still works. */
const refreshes = (token: string) => oidc.refreshTokenGrant(env.rp, token).then(() => true, () => false);
const tokensIn = (ua: UserAgent, user: { username: string; password: string }, scope = 'openid offline_access') =>
  loginAndRedeem(env.rp, env.url, { ua, user, scope, extra: { prompt: 'consent' } }).then(({ tokens }) => tokens);

test('each change needs the page\'s CSRF token (403) and a session (401)', async () => {
  const { user } = await newUser();
  const { ua, csrf } = await signInToAccount(env.url, user);
  const paths = ['/account/password', '/account/email', '/account/delete', '/account/sessions/end', '/account/sessions/end-others', '/account/email/resend'];
  const form = { current_password: user.password, password: 'another long passphrase', email: 'x@example.com', session: 'x' };
  for (const path of paths) {
    expect([path, (await post(ua, path, form)).status]).toEqual([path, 403]);
    expect([path, (await post(ua, path, { ...form, csrf: 'A'.repeat(43) })).status]).toEqual([path, 403]);
    expect([path, (await post(new UserAgent(), path, { ...form, csrf })).status]).toEqual([path, 401]);
  }
  expect(await signedIn(ua)).toBe(true);
});

test('a new password needs the current one, a wrong one counts against the sign-in lock; the change ends every session', async () => {
  const { user, id } = await newUser();
  const laptop = await signInToAccount(env.url, user);
  const phone = new UserAgent();
  const refresh = (await tokensIn(phone, user)).refresh_token!;
  const form = await (await laptop.ua.request(`${env.url}/account/password`)).text();
  expect(headingOf(form)).toBe('Change your password');
  expect(form).toContain('autocomplete="current-password"');

  const wrong = await post(laptop.ua, '/account/password', { csrf: laptop.csrf, current_password: 'not my password', password: 'brand new passphrase' });
  expect(wrong.status).toBe(400);
  expect(await wrong.text()).toContain('That password is not right.');
  expect((await env.store.counters.get(`login:subject:account:${id}`))?.state.f).toBe(1);
  const weak = await post(laptop.ua, '/account/password', { csrf: laptop.csrf, current_password: user.password, password: 'short' });
  expect([weak.status, (await weak.text()).includes('Use at least 8 characters.')]).toEqual([400, true]);

  const done = await post(laptop.ua, '/account/password', { csrf: laptop.csrf, current_password: user.password, password: 'brand new passphrase' });
  expect([done.status, headingOf(await done.text())]).toEqual([200, 'Password changed']);
  expect(done.headers.getSetCookie().join('\n')).toMatch(/idport\.session=;.*expires=Thu, 01 Jan 1970/);
  expect(await signedIn(laptop.ua)).toBe(false);
  expect(await signedIn(phone)).toBe(false);
  expect(await refreshes(refresh)).toBe(false);
  await signInToAccount(env.url, { ...user, password: 'brand new passphrase' });
  expect(audits('account.password_changed')).toContainEqual(expect.objectContaining({ outcome: 'success', actor: id, sessions: 2 }));
  expect(audits('account.password_changed')).toContainEqual(expect.objectContaining({ outcome: 'failure', actor: id, reason: 'wrong-password' }));
  expect(JSON.stringify(logs)).not.toMatch(/brand new passphrase|not my password|has a long passphrase/);
});

test('wrong current passwords lock the account here as on the login page (429), and the lock holds at sign-in', async () => {
  const { user } = await newUser();
  const { ua, csrf } = await signInToAccount(env.url, user);
  for (let i = 0; i < 3; i += 1) expect((await post(ua, '/account/delete', { csrf, current_password: `guess ${i}` })).status).toBe(400);
  const locked = await post(ua, '/account/delete', { csrf, current_password: user.password });
  expect([locked.status, (await locked.text()).includes('Too many wrong passwords.')]).toEqual([429, true]);
  expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
  await expect(signInToAccount(env.url, user)).rejects.toThrow();
  expect(await signedIn(ua)).toBe(true);
});

test('a new email needs the password, is unverified (email_verified false) and gets a verification link', async () => {
  const { user, id } = await newUser();
  const { ua, csrf } = await signInToAccount(env.url, user);
  const { access_token } = await tokensIn(new UserAgent(), user, 'openid email');
  const me = async () => (await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${access_token}` } }).then((r) => r.json())) as Record<string, unknown>;
  expect(await me()).toMatchObject({ email: user.email, email_verified: true });

  const change = (form: Record<string, string>) => post(ua, '/account/email', { csrf, ...form });
  expect((await change({ email: 'new@example.com', current_password: 'wrong' })).status).toBe(400);
  expect((await change({ email: 'not an address', current_password: user.password })).status).toBe(400);
  expect((await change({ email: user.email.toUpperCase(), current_password: user.password })).status).toBe(400);
  const taken = await change({ email: 'MEMBER1@example.com', current_password: user.password });
  expect([taken.status, (await taken.text()).includes('This address cannot be used')]).toEqual([409, true]);
  expect((await env.store.accounts.findById(id))!.email).toBe(user.email);

  const done = await change({ email: `  moved.${user.email} `, current_password: user.password });
  expect([done.status, done.headers.get('location')]).toEqual([303, '/account?notice=email-changed']);
  expect(await env.store.accounts.findById(id)).toMatchObject({ email: `moved.${user.email}`, emailVerified: false });
  expect(await me()).toMatchObject({ email: `moved.${user.email}`, email_verified: false });
  const mail = await mailbox.next(`moved.${user.email}`);
  expect(mail.link).toMatch(new RegExp(`^${env.url}/verify-email\\?token=`));
  const page = await (await ua.request(`${env.url}/account?notice=email-changed`)).text();
  expect(page).toContain('(not confirmed)');
  expect(page).toContain('Open the link we sent to the new address to confirm it.');
  expect(audits('account.email_changed')).toContainEqual(expect.objectContaining({ outcome: 'success', actor: id, verification: 'sent' }));
});

test('where you are signed in: two browsers; signing out the other ends it and its refresh token; "everywhere else" keeps this one', async () => {
  const { user, id } = await newUser();
  const laptop = new NamedBrowser(chromeOnLinux);
  const { csrf } = await signInToAccount(env.url, user, laptop);
  const laptopRefresh = (await tokensIn(laptop, user)).refresh_token!;
  const desktop = new NamedBrowser(firefoxOnWindows);
  const desktopRefresh = (await tokensIn(desktop, user)).refresh_token!;

  const page = await (await laptop.request(`${env.url}/account/sessions`)).text();
  const items = page.split(/<li[\s>]/).slice(1);
  expect(items).toHaveLength(2);
  expect(items[0]).toContain('<strong>Chrome on Linux</strong> <span class="badge">This device</span>');
  expect(items[0]).not.toContain('name="session"');
  expect(items[1]).toContain('<strong>Firefox on Windows</strong>');
  expect(items[1]).toMatch(/From 127\.0\.0\.1.*Last active \d{4}-\d\d-\d\d \d\d:\d\d UTC.*Signed in \d{4}-/s);
  // Pages name sessions by a hash, never by their id (the cookie's value).
  const sessions = await env.store.model('Session').findByAccount(id);
  for (const { id: sid } of sessions) expect(page).not.toContain(sid);

  const handle = /name="session" value="([^"]+)"/.exec(items[1]!)![1]!;
  const ended = await post(laptop, '/account/sessions/end', { csrf, session: handle });
  expect(ended.headers.get('location')).toBe('/account/sessions?notice=ended');
  expect([await signedIn(desktop), await refreshes(desktopRefresh)]).toEqual([false, false]);
  expect([await signedIn(laptop), await refreshes(laptopRefresh)]).toEqual([true, true]);
  // This browser's own session cannot be ended as "another" one (that is signing out).
  const own = (await env.store.model('Session').findByAccount(id)).length;
  expect((await post(laptop, '/account/sessions/end', { csrf, session: handle })).headers.get('location')).toBe('/account/sessions?notice=gone');
  expect((await env.store.model('Session').findByAccount(id)).length).toBe(own);

  const phone = new NamedBrowser(safariOnIphone);
  const phoneRefresh = (await tokensIn(phone, user)).refresh_token!;
  const again = new NamedBrowser(firefoxOnWindows);
  await signInToAccount(env.url, user, again);
  expect(await (await laptop.request(`${env.url}/account/sessions`)).text()).toContain('Safari on iOS');
  const others = await post(laptop, '/account/sessions/end-others', { csrf });
  expect(others.headers.get('location')).toBe('/account/sessions?notice=others-ended');
  expect([await signedIn(phone), await refreshes(phoneRefresh), await signedIn(again)]).toEqual([false, false, false]);
  expect([await signedIn(laptop), await refreshes(laptopRefresh)]).toEqual([true, true]);
  const after = await (await laptop.request(`${env.url}/account/sessions?notice=others-ended`)).text();
  expect(after).toContain('You are signed out everywhere else.');
  expect(after).toContain('You are signed in only on this device.');
  expect(audits('session.ended')).toContainEqual(expect.objectContaining({ outcome: 'success', actor: id, others: true, sessions: 2 }));
});

test('deleting the account needs the password; then everything it had is revoked and the cookie is gone', async () => {
  const { user, id } = await newUser();
  const { ua, csrf } = await signInToAccount(env.url, user);
  const elsewhere = new UserAgent();
  const refresh = (await tokensIn(elsewhere, user)).refresh_token!;
  const form = await (await ua.request(`${env.url}/account/delete`)).text();
  expect(form).toContain(`This deletes the account ${user.username}.`);
  expect((await post(ua, '/account/delete', { csrf: csrfFrom(form), current_password: 'wrong' })).status).toBe(400);
  expect(await env.store.accounts.findById(id)).toBeDefined();

  const done = await post(ua, '/account/delete', { csrf, current_password: user.password });
  expect([done.status, headingOf(await done.text())]).toEqual([200, 'Your account is deleted']);
  expect(done.headers.getSetCookie().join('\n')).toMatch(/idport\.session=;.*expires=Thu, 01 Jan 1970/);
  expect(await env.store.accounts.findById(id)).toBeUndefined();
  expect(await env.store.consents.listByAccount(id)).toEqual([]);
  expect(await env.store.model('Grant').findByAccount(id)).toEqual([]);
  expect([await signedIn(ua), await signedIn(elsewhere), await refreshes(refresh)]).toEqual([false, false, false]);
  expect(audits('account.deleted')).toContainEqual(expect.objectContaining({ outcome: 'success', actor: id, sessions: 2 }));
});

test('an old sign-in is sent to sign in again (prompt=login) before any of these changes', async () => {
  const old = await start({ mfa: { reauthSeconds: 1 } });
  try {
    const user = { username: 'olga', password: 'olga has a long passphrase', email: 'olga@example.com', name: 'Olga' };
    await addUser(old.store, user);
    const { ua, csrf } = await signInToAccount(old.url, user);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    for (const [method, path] of [['GET', '/account/password'], ['GET', '/account/email'], ['GET', '/account/delete'], ['POST', '/account/password'], ['POST', '/account/email'], ['POST', '/account/delete'], ['POST', '/account/sessions/end-others']]) {
      const res = method === 'GET' ? await ua.request(`${old.url}${path}`) : await ua.postForm(`${old.url}${path}`, { csrf, current_password: user.password, password: 'x'.repeat(20), email: 'o@example.com' });
      expect([path, res.status, new URL(res.headers.get('location')!).searchParams.get('prompt')]).toEqual([path, method === 'GET' ? 302 : 303, 'login']);
    }
    expect(await old.store.accounts.findById((await old.store.accounts.findByLogin('olga'))!.id)).toMatchObject({ email: 'olga@example.com' });
  } finally {
    await old.stop();
  }
});

test('a session handle of another account ends nothing: one account signs out only its own sessions', async () => {
  const victim = await newUser();
  const victimBrowser = new NamedBrowser(firefoxOnWindows);
  const victimRefresh = (await tokensIn(victimBrowser, victim.user)).refresh_token!;
  // the victim's session handle, as the victim's own sessions page shows it to another of its browsers
  const victimLaptop = new NamedBrowser(chromeOnLinux);
  await signInToAccount(env.url, victim.user, victimLaptop);
  const victimPage = await (await victimLaptop.request(`${env.url}/account/sessions`)).text();
  const handle = /name="session" value="([^"]+)"/.exec(victimPage)![1]!;

  const attacker = await newUser();
  const attackerBrowser = new NamedBrowser(safariOnIphone);
  const { csrf } = await signInToAccount(env.url, attacker.user, attackerBrowser);
  const before = (await env.store.model('Session').findByAccount(victim.id)).length;
  const tried = await post(attackerBrowser, '/account/sessions/end', { csrf, session: handle });
  expect(tried.headers.get('location')).toBe('/account/sessions?notice=gone');
  expect((await env.store.model('Session').findByAccount(victim.id)).length).toBe(before);
  expect([await signedIn(victimBrowser), await refreshes(victimRefresh)]).toEqual([true, true]);
  // "everywhere else" from the attacker's account reaches none of the victim's sessions either
  await post(attackerBrowser, '/account/sessions/end-others', { csrf });
  expect([await signedIn(victimBrowser), await signedIn(victimLaptop), await refreshes(victimRefresh)]).toEqual([true, true, true]);
});
