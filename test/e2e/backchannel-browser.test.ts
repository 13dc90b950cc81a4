/**
 * Back-Channel Logout with the example web app (examples/rp-web) in headless Chromium: the user
 * signs in to two apps through one idport session, logs out of one (RP-initiated logout), and the
 * other app — told by a logout token it validated — shows them signed out on the next page load.
 * Both apps are registered with the idport CLI and --backchannel-logout-uri.
 */
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

import { start as startApp, type AppSession, type RunningApp } from '../../examples/rp-web/server.mjs';
import { launchChromium } from '../helpers/browser.js';
import { cli, killChildren, type Run } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const user = { username: 'alice', password: 'a long passphrase for alice', email: 'alice@example.com' };

let browser: Browser | undefined;
let server: TestServer | undefined;
const apps: { app: RunningApp; sessions: Map<string, AppSession>; clientId: string }[] = [];
let aliceId: string;

function json(run: Run): Record<string, unknown> {
  if (run.code !== 0) throw new Error(`idport CLI failed (${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * `idport clients add … --backchannel-logout-uri` for an example app, then the app. Cookies do not
 * tell ports apart, so each app has a host name of its own (both loopback).
 */
async function registerAndStart(name: string, hostname: '127.0.0.1' | 'localhost') {
  const port = await freePort();
  const origin = `http://${hostname}:${port}`;
  const added = json(
    await cli(`sqlite:${join(server!.dir, 'idport.db')}`, [
      'clients', 'add', '--name', name,
      '--redirect-uri', `${origin}/callback`,
      '--post-logout-redirect-uri', `${origin}/logged-out`,
      '--backchannel-logout-uri', `${origin}/backchannel-logout`,
      '--backchannel-logout-session-required',
      '--scope', 'openid profile email', '--json',
    ]),
  );
  expect(added).toMatchObject({ backchannel_logout_uri: `${origin}/backchannel-logout`, backchannel_logout_session_required: true });
  const sessions = new Map<string, AppSession>();
  const app = await startApp({
    issuer: server!.url,
    clientId: added.client_id as string,
    clientSecret: added.client_secret as string,
    port,
    publicUrl: origin,
    apiAudience: '',
    scope: 'openid profile email',
    sessions,
    appName: name,
  });
  expect(app.backchannelLogoutUri).toBe(`${origin}/backchannel-logout`);
  apps.push({ app, sessions, clientId: added.client_id as string });
  return apps.at(-1)!;
}

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer();
  aliceId = json(
    await cli(`sqlite:${join(server.dir, 'idport.db')}`, ['users', 'add', '--username', user.username, '--password-stdin', '--email', user.email, '--email-verified', '--json'], user.password),
  ).sub as string;
}, 30_000);

afterAll(async () => {
  killChildren();
  await browser?.close();
  for (const { app } of apps) await app.close();
  await server?.stop();
});

const heading = (page: Page) => page.getByRole('heading', { level: 1 });

/** Waits until the browser has landed (through redirects) on a URL starting with `prefix`. */
async function landOn(page: Page, prefix: string, action: () => Promise<unknown>) {
  const landed = page.waitForURL((u) => u.href.startsWith(prefix), { waitUntil: 'load' });
  await action();
  await landed;
}

/** "Log in with idport" on `app`: the password the first time, then consent, back on the app signed in. */
async function logIn(page: Page, app: RunningApp) {
  await page.goto(app.url);
  await page.getByLabel('Stay signed in (ask for a refresh token)').uncheck();
  await landOn(page, server!.url, () => page.getByRole('button', { name: 'Log in with idport' }).click());
  if ((await heading(page).textContent()) === 'Sign in') {
    await page.getByLabel('Username or email').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }
  await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  await landOn(page, `${app.url}/`, () => page.getByRole('button', { name: 'Allow' }).click());
  expect(await page.locator('#notice').textContent()).toBe('You are signed in.');
}

test('logging out of one app ends the session of the other app that idport signed in', async () => {
  const one = await registerAndStart('App One', '127.0.0.1');
  const two = await registerAndStart('App Two', 'localhost');
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const posts: string[] = [];
  page.on('request', (req) => {
    if (req.url().includes('/backchannel-logout')) posts.push(req.url());
  });

  await logIn(page, one.app);
  await logIn(page, two.app);
  const [twoSession] = [...two.sessions.values()].filter((s) => s.user);
  const sid = twoSession!.user!.claims.sid;
  expect(sid).toEqual(expect.any(String));
  expect([...one.sessions.values()].find((s) => s.user)!.user!.claims.sid).not.toBe(sid);

  // Log out of App One (RP-initiated): idport asks, then sends the browser back to App One.
  await page.goto(one.app.url);
  await landOn(page, `${server!.url}/session/end`, () => page.getByRole('button', { name: 'Log out' }).click());
  expect(await heading(page).textContent()).toBe('Sign out?');
  await landOn(page, `${one.app.url}/logged-out`, () => page.getByRole('button', { name: 'Yes, sign me out' }).click());
  expect(await page.locator('#notice').textContent()).toBe('You are logged out of this app and of idport.');

  // App Two got a logout token for its sign-in's sid, validated it and ended that session.
  const deadline = Date.now() + 5000;
  while (two.app.backchannelLogouts.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  expect(two.app.backchannelLogouts).toEqual([{ sid, sub: aliceId, jti: expect.any(String), sessionsEnded: 1 }]);
  expect(one.app.backchannelLogouts).toHaveLength(1);
  expect(one.app.backchannelLogouts[0]).toMatchObject({ sub: aliceId, sessionsEnded: 0 }); // it had ended its own already
  // Server to server: the browser never carried a logout token.
  expect(posts).toEqual([]);

  // The next page load on App Two: signed out.
  await page.goto(two.app.url);
  await page.getByRole('button', { name: 'Log in with idport' }).waitFor();
  expect(await page.locator('#signed-in-as').count()).toBe(0);
  expect([...two.sessions.values()].some((s) => s.user)).toBe(false);
  await context.close();
});
