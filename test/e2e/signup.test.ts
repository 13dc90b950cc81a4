/**
 * Sign-up and email verification end to end: a real idport sending its email over TCP to a real
 * SMTP server in this process, and real HTTP through the pages (login → "Create an account" →
 * the app; the emailed link; "check your email" while signup.requireVerifiedEmail holds the
 * sign-in). The outbox, when no SMTP server is set, is the last test.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import { startServer } from '../../src/server.js';
import { openStore } from '../../src/storage/open-store.js';
import { tempDir } from '../helpers/server.js';
import { bob, noticeText, openSignup, postEmailStep, postSignup, signupSettings } from '../helpers/signup.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { UserAgent, csrfFrom } from '../helpers/user-agent.js';
import {
  addClient, alice, CALLBACK, get, openInteraction, postInteraction, serversPerTest, type Env, type InteractionPage,
} from '../security/helpers.js';

const servers = serversPerTest();
let smtp: SmtpSink;
beforeEach(async () => {
  smtp = await startSmtpSink();
});
/** The next email, which must carry a link. */
const nextMail = async () => {
  const mail = await smtp.next();
  if (!mail.link) throw new Error(`no link in:\n${mail.text}`);
  return { ...mail, link: mail.link };
};
afterEach(() => smtp.close());

/** From a response of the interaction on to the app: through the consent page when it comes. */
async function onToApp(env: Env, page: InteractionPage, res: Response, from: string): Promise<URLSearchParams> {
  const step = await page.ua.follow(new URL(from, env.url), env.url, res);
  if (step.left) return step.left.searchParams;
  const html = await step.page!.text();
  expect(html).toContain('Allow access?');
  const consent = { ...page, uid: /\/interaction\/([^/]+)$/.exec(step.url.pathname)![1]!, csrf: csrfFrom(html) };
  const res2 = await postInteraction(env, consent, 'consent', { csrf: consent.csrf });
  const back = await page.ua.follow(new URL(`/interaction/${consent.uid}/consent`, env.url), env.url, res2);
  expect(back.left?.origin + back.left!.pathname).toBe(CALLBACK);
  return back.left!.searchParams;
}

/** A password sign-in on a fresh login page of the app. */
async function signInAs(env: Env, login: string, password: string) {
  const page = await openInteraction(env, {}, new UserAgent());
  return { page, res: await postInteraction(env, page, 'login', { csrf: page.csrf, login, password }) };
}

test('sign up from an app: back at the app with a code; the link emailed over SMTP verifies the address, once', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  const page = await openSignup(env);
  expect(page.html).toContain('Create your account');
  const res = await postSignup(env, page);
  expect(res.status).toBe(303);
  const params = await onToApp(env, page, res, `/interaction/${page.uid}/signup`);
  expect(params.get('code')).toBeTruthy();
  expect(params.get('state')).toBe('state-123');

  const account = (await env.server.store.accounts.findByLogin(bob.email))!;
  expect(account).toMatchObject({ username: bob.email, email: bob.email, name: bob.name, emailVerified: false });
  const mail = await nextMail();
  expect(mail.to).toEqual([bob.email]);
  expect(mail.subject).toBe('Confirm your email address for idport');
  expect(mail.text).toContain('Hello Bob Builder,');
  expect(mail.text).toContain('The link works once, for 24 hours.');
  expect(mail.link).toMatch(new RegExp(`^${env.url}/verify-email\\?token=[A-Za-z0-9_-]{43}$`));

  // Opened in another browser (no cookies): confirmed, with a way on to /account.
  const confirmed = await get(mail.link);
  expect(confirmed.status).toBe(200);
  expect(confirmed.headers.get('cache-control')).toBe('no-store');
  const html = await confirmed.text();
  expect(html).toContain('Email address confirmed');
  expect(html).toContain(`${bob.email} is confirmed.`);
  expect(html).toContain('href="/account"');
  expect((await env.server.store.accounts.findById(account.id))!.emailVerified).toBe(true);

  const again = await get(mail.link);
  expect(again.status).toBe(410);
  expect(await again.text()).toContain('This link no longer works');
});

test('a username may be chosen; the account then signs in with it or the email, and the sign-up page is in Korean for Korean browsers', async () => {
  const env = await servers.start(signupSettings(smtp.url));
  const page = await openSignup(env, new UserAgent());
  const res = await postSignup(env, page, { username: 'bob_b' });
  expect(res.status).toBe(303);
  expect((await env.server.store.accounts.findByLogin('bob_b'))!.email).toBe(bob.email);
  for (const login of ['bob_b', 'BOB@example.com']) {
    const { page: again, res: signedIn } = await signInAs(env, login, bob.password);
    expect(signedIn.status).toBe(303);
    expect((await onToApp(env, again, signedIn, `/interaction/${again.uid}/login`)).get('code')).toBeTruthy();
  }
  const login = await openInteraction(env, {}, new UserAgent());
  const korean = await login.ua.request(new URL(`/interaction/${login.uid}/signup`, env.url), { headers: { 'accept-language': 'ko-KR' } });
  const html = await korean.text();
  expect(html).toContain('<html lang="ko">');
  expect(html).toContain('이메일 주소');
});

test('requireVerifiedEmail: the sign-up waits on "check your email"; send again; Continue works only once the link was opened', async () => {
  const env = await servers.start(signupSettings(smtp.url, { requireVerifiedEmail: true }));
  const page = await openSignup(env);
  const res = await postSignup(env, page);
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toContain('Check your email');
  expect(html).toContain(`We sent a link to ${bob.email}.`);
  expect(html).toContain(`action="/interaction/${page.uid}/email/resend"`);
  const first = await nextMail();

  const early = await postEmailStep(env, page, 'continue');
  expect(early.status).toBe(200);
  expect(noticeText(await early.text())).toBe('Your address is not confirmed yet. Open the link in the email, then select Continue.');

  const resent = await postEmailStep(env, page, 'resend');
  expect(resent.status).toBe(200);
  expect(noticeText(await resent.text())).toBe('We sent a new link.');
  const second = await nextMail();
  expect(second.link).not.toBe(first.link);

  // The link opened elsewhere; back in the waiting browser, Continue signs in and goes on to the app.
  expect((await get(second.link)).status).toBe(200);
  const done = await postEmailStep(env, page, 'continue');
  expect(done.status).toBe(303);
  expect((await onToApp(env, page, done, `/interaction/${page.uid}/email/continue`)).get('code')).toBeTruthy();
  // The first link, for the same address, still works once (the address is verified already).
  expect((await get(first.link)).status).toBe(200);
});

test('requireVerifiedEmail: a later password sign-in of an unverified account is held (no email sent by itself) until the address is verified', async () => {
  const env = await servers.start(signupSettings(smtp.url, { requireVerifiedEmail: true }));
  const page = await openSignup(env);
  expect((await postSignup(env, page)).status).toBe(200);
  const mail = await nextMail();

  const wrong = await signInAs(env, bob.email, 'not the password at all');
  expect(await wrong.res.text()).toContain('The username or password is incorrect.');
  const held = await signInAs(env, bob.email, bob.password);
  expect(held.res.status).toBe(200);
  const html = await held.res.text();
  expect(html).toContain('Confirm your email address');
  expect(html).toContain(`confirm that ${bob.email} is yours`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(smtp.received).toHaveLength(1);
  // A held sign-in is not a sign-in: the interaction has no login.
  expect((await held.page.ua.follow(new URL(`/interaction/${held.page.uid}`, env.url), env.url)).page!.status).toBe(200);

  expect((await get(mail.link)).status).toBe(200);
  const after = await signInAs(env, bob.email, bob.password);
  expect(after.res.status).toBe(303);
  expect((await onToApp(env, after.page, after.res, `/interaction/${after.page.uid}/login`)).get('code')).toBeTruthy();
});

test('requireVerifiedEmail never holds accounts an operator added, verified or not', async () => {
  const env = await servers.start(signupSettings(smtp.url, { requireVerifiedEmail: true }));
  await env.server.store.accounts.setEmail((await env.server.store.accounts.findByLogin(alice.username))!.id, 'alice@example.org', false);
  const { page, res } = await signInAs(env, alice.username, alice.password);
  expect(res.status).toBe(303);
  expect((await onToApp(env, page, res, `/interaction/${page.uid}/login`)).get('code')).toBeTruthy();
  expect(smtp.received).toEqual([]);
});

test('no SMTP server (development): the verification email lands in email.outboxDir with its link, and the log line names the file', async () => {
  const dir = tempDir();
  const outboxDir = join(dir, 'outbox');
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, 'idport.db')}`, signup: { enabled: true }, email: { outboxDir } });
  const store = await openStore(config.databaseUrl, {}, config.mongo);
  const running = await startServer(config, { logger: pino({ level: 'info' }, sink), store });
  try {
    const client = await addClient(store, { redirect_uris: [CALLBACK] });
    const env = { url: running.url, client } as unknown as Env;
    const page = await openSignup(env);
    expect((await postSignup(env, page)).status).toBe(303);
    const files = readdirSync(outboxDir);
    expect(files).toHaveLength(1);
    const file = join(outboxDir, files[0]!);
    const written = readFileSync(file, 'utf8');
    const link = new RegExp(`${running.url}/verify-email\\?token=[A-Za-z0-9_-]{43}`).exec(written)?.[0];
    expect(link).toBeDefined();
    expect(written).toContain(`To: ${bob.email}`);
    const logged = lines.find((l) => l.kind === 'outbox');
    expect(logged).toMatchObject({ file, link, to: bob.email });
    expect(String(logged!.msg)).toContain('written to the outbox');
    expect((await get(link!)).status).toBe(200);
  } finally {
    await running.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
