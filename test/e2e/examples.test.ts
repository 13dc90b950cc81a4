/**
 * The "Log in with idport" examples, for real: headless Chromium uses the example web app
 * (examples/rp-web) against a real idport, and the app calls the example API (examples/api).
 * Everything is registered with the idport CLI exactly as examples/README.md says.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';

import { start as startApi, type RunningApi } from '../../examples/api/server.mjs';
import { start as startApp, type AppSession, type RunningApp } from '../../examples/rp-web/server.mjs';
import { launchChromium } from '../helpers/browser.js';
import { cli, killChildren, type Run } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const audience = 'https://api.example.com';
const user = { username: 'alice', password: 'a long passphrase for alice', email: 'alice@example.com', name: 'Alice <b>Liddell</b>' };
const appName = 'Example App';
const firstPartyName = 'Our Own App';
const sessionCookie = 'idport_example_session';

let browser: Browser | undefined;
let server: TestServer | undefined;
let api: RunningApi | undefined;
let app: RunningApp | undefined;
let firstPartyApp: RunningApp | undefined;
let client: { client_id: string; client_secret: string };
let aliceId: string;
/** the example app's sessions (its in-memory store, handed in so the test can see the tokens) */
const sessions = new Map<string, AppSession>();

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

/** `idport clients add` for an example app on `port`, then the app itself. */
async function registerAndStartApp(name: string, extraFlags: string[] = []) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const db = `sqlite:${join(server!.dir, 'idport.db')}`;
  const added = json(
    await cli(db, [
      'clients', 'add', '--name', name,
      '--redirect-uri', `${origin}/callback`,
      '--post-logout-redirect-uri', `${origin}/logged-out`,
      '--scope', 'openid profile email offline_access read:things',
      ...extraFlags, '--json',
    ]),
  );
  expect(added.api_scopes).toEqual(['read:things']);
  const ids = { client_id: added.client_id as string, client_secret: added.client_secret as string };
  const running = await startApp({
    issuer: server!.url,
    clientId: ids.client_id,
    clientSecret: ids.client_secret,
    port,
    publicUrl: origin,
    apiUrl: api!.url,
    apiAudience: audience,
    sessions,
    appName: name,
  });
  return { running, ids };
}

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer();
  const db = `sqlite:${join(server.dir, 'idport.db')}`;
  json(await cli(db, ['apis', 'add', '--audience', audience, '--scope', 'read:things', '--scope', 'write:things', '--name', 'Things API', '--json']));
  aliceId = json(
    await cli(db, ['users', 'add', '--username', user.username, '--password-stdin', '--email', user.email, '--name', user.name, '--email-verified', '--json'], user.password),
  ).sub as string;
  api = await startApi({ issuer: server.url, audience, port: 0 });
  ({ running: app, ids: client } = await registerAndStartApp(appName));
  ({ running: firstPartyApp } = await registerAndStartApp(firstPartyName, ['--first-party']));
}, 30_000);

afterAll(async () => {
  killChildren();
  await browser?.close();
  await app?.close();
  await firstPartyApp?.close();
  await api?.close();
  await server?.stop();
});

/**
 * A fresh browser profile whose pages fail fast, report console errors (CSP violations show up
 * there), and remember the heading of every page idport served (the login and consent pages share
 * their URL, /interaction/:uid, so the heading tells them apart).
 */
async function newPage() {
  const context: BrowserContext = await browser!.newContext();
  const page: Page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(10_000);
  const problems: string[] = [];
  page.on('console', (msg: ConsoleMessage) => {
    if ((msg.type() === 'error' || msg.type() === 'warning') && !/favicon/.test(`${msg.text()} ${msg.location().url}`)) {
      problems.push(`${msg.type()}: ${msg.text()} @ ${msg.location().url}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  const idportPages: Promise<string>[] = [];
  page.on('response', (res) => {
    if (res.request().isNavigationRequest() && res.status() === 200 && res.url().startsWith(server!.url)) {
      idportPages.push(res.text().then((body) => /<h1[^>]*>([^<]*)<\/h1>/.exec(body)?.[1]?.trim() ?? '?', () => '?'));
    }
  });
  return { context, page, problems, idportPages: () => Promise.all(idportPages) };
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 });

/** Runs `action` and waits until the browser has landed (through redirects) on a URL starting with `prefix`. */
async function landOn(page: Page, prefix: string, action: () => Promise<unknown>): Promise<URL> {
  const landed = page.waitForURL((u) => u.href.startsWith(prefix), { waitUntil: 'load' });
  await action();
  await landed;
  return new URL(page.url());
}

/**
 * On the example app: "Log in with idport", arriving at idport's login or consent page (or, with
 * `until`, wherever the redirects end).
 */
async function startLogin(page: Page, site: RunningApp, { offline = true, until = server!.url } = {}) {
  await page.goto(site.url);
  expect(await heading(page).textContent()).toBe(site === app ? appName : firstPartyName);
  const stay = page.getByLabel('Stay signed in (ask for a refresh token)');
  if (offline) await stay.check();
  else await stay.uncheck();
  return landOn(page, until, () => page.getByRole('button', { name: 'Log in with idport' }).click());
}

async function signIn(page: Page) {
  expect(await heading(page).textContent()).toBe('Sign in');
  await page.getByLabel('Username or email').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** The example app's server-side session for this browser. */
async function appSession(context: BrowserContext, site: RunningApp): Promise<AppSession> {
  const cookie = (await context.cookies(site.url)).find((c) => c.name === sessionCookie);
  expect(cookie).toBeDefined();
  expect(cookie!.httpOnly).toBe(true);
  const session = sessions.get(cookie!.value);
  expect(session).toBeDefined();
  return session!;
}

async function claimsShown(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse((await page.locator('#id-token-claims').textContent())!) as Record<string, unknown>;
}

async function callApi(page: Page) {
  await page.getByRole('button', { name: 'Call the API' }).click();
  await page.locator('#api-result').waitFor();
  return {
    status: (await page.locator('#api-status').textContent())!,
    body: JSON.parse((await page.locator('#api-result').textContent())!) as Record<string, unknown>,
  };
}

describe('the example web app and API with idport in headless Chromium', () => {
  test('log in with consent for the API scope, see the claims, call the API, refresh, log out', async () => {
    const { context, page, problems, idportPages } = await newPage();
    await startLogin(page, app!);
    await signIn(page);

    // The consent page names the app and lists the API scope next to the OpenID ones.
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.locator('.lead').textContent()).toContain(appName);
    const scopes = await page.locator('ul.scopes li code').allTextContents();
    expect(scopes.sort()).toEqual(['email', 'offline_access', 'openid', 'profile', 'read:things']);

    await landOn(page, `${app!.url}/`, () => page.getByRole('button', { name: 'Allow' }).click());
    expect(new URL(page.url()).pathname).toBe('/'); // the code is not left in the address bar
    expect(await page.locator('#notice').textContent()).toBe('You are signed in.');
    // Escaped: the name's markup is text, not elements.
    expect(await page.locator('#signed-in-as strong').textContent()).toBe(user.name);
    expect(await page.locator('#signed-in-as b').count()).toBe(0);

    const claims = await claimsShown(page);
    expect(claims).toMatchObject({ sub: aliceId, iss: server!.url, aud: client.client_id, email: user.email, email_verified: true, name: user.name });
    expect(await page.locator('#token-scope').textContent()).toBe('read:things');
    expect(await page.locator('#token-audience').textContent()).toBe(audience);
    // The tokens stay on the server: none of them is in the page.
    const session = await appSession(context, app!);
    const pageText = await page.content();
    for (const token of [session.user!.accessToken, session.user!.refreshToken!, session.user!.idToken]) expect(pageText).not.toContain(token);

    // "Call the API": the example API accepts the JWT access token.
    const first = await callApi(page);
    expect(first.status).toBe(`GET ${api!.url}/things → 200`);
    expect(first.body).toMatchObject({ caller: { sub: aliceId, client_id: client.client_id, scopes: ['read:things'] } });
    expect((first.body.things as unknown[]).length).toBeGreaterThan(0);

    // "Refresh tokens": a new access token for the API from the refresh token.
    const before = session.user!.accessToken;
    await page.getByRole('button', { name: 'Refresh tokens' }).click();
    await page.locator('#notice').waitFor();
    expect(await page.locator('#notice').textContent()).toBe('Tokens refreshed.');
    const refreshed = await appSession(context, app!);
    expect(refreshed.user!.accessToken).not.toBe(before);
    expect((await callApi(page)).status).toBe(`GET ${api!.url}/things → 200`);

    // "Log out": idport asks to confirm, then sends the browser back to the app.
    const refreshToken = refreshed.user!.refreshToken!;
    await landOn(page, `${server!.url}/session/end`, () => page.getByRole('button', { name: 'Log out' }).click());
    expect(await heading(page).textContent()).toBe('Sign out?');
    expect(await page.locator('.lead').textContent()).toContain(appName);
    const back = await landOn(page, `${app!.url}/logged-out`, () => page.getByRole('button', { name: 'Yes, sign me out' }).click());
    expect(back.searchParams.get('state')).toBeTruthy();
    expect(await page.locator('#notice').textContent()).toBe('You are logged out of this app and of idport.');
    // The app revoked its refresh token on the way out.
    const config = await oidc.discovery(new URL(server!.url), client.client_id, client.client_secret, oidc.ClientSecretBasic(client.client_secret), {
      execute: [oidc.allowInsecureRequests],
    });
    expect((await oidc.tokenIntrospection(config, refreshToken)).active).toBe(false);
    // And the idport session really ended: logging in again asks for the password.
    await startLogin(page, app!, { offline: false });
    expect(await heading(page).textContent()).toBe('Sign in');

    expect(await idportPages()).toEqual(['Sign in', 'Allow access?', 'Sign out?', 'Sign in']);
    expect(problems).toEqual([]);
    await context.close();
  });

  test('the example app also shows userinfo (read with a token for no resource, RFC 8707)', async () => {
    const { context, page } = await newPage();
    await startLogin(page, app!);
    await signIn(page);
    await landOn(page, `${app!.url}/`, () => page.getByRole('button', { name: 'Allow' }).click());
    // (On failure, the app says why: the assertion shows its words.)
    const failure = page.locator('#userinfo-error');
    expect((await failure.count()) ? await failure.textContent() : null).toBeNull();
    const userinfo = JSON.parse((await page.locator('#userinfo').textContent())!) as Record<string, unknown>;
    expect(userinfo).toMatchObject({ sub: aliceId, email: user.email, name: user.name });
    await context.close();
  });

  test('Deny on the consent page: the app says the sign-in did not complete (access_denied)', async () => {
    const { context, page, problems } = await newPage();
    await startLogin(page, app!);
    await signIn(page);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await landOn(page, `${app!.url}/callback`, () => page.getByRole('button', { name: 'Deny' }).click());
    expect(await page.getByRole('alert').textContent()).toBe('Sign-in did not complete: access_denied (End-User aborted interaction)');
    expect(await page.locator('#signed-in-as').count()).toBe(0);
    // The callback is single-use: reloading it does not retry.
    await page.reload();
    expect(await page.getByRole('alert').textContent()).toMatch(/^No sign-in is in progress/);
    // (Chromium logs the two 400 answers of /callback; nothing else.)
    expect(problems.filter((p) => !/status of 400 .* @ .*\/callback\?/.test(p))).toEqual([]);
    await context.close();
  });

  test('a first-party app (clients add --first-party) never shows the consent page', async () => {
    const { context, page, problems, idportPages } = await newPage();
    await startLogin(page, firstPartyApp!);
    await landOn(page, `${firstPartyApp!.url}/`, () => signIn(page));
    expect(await page.locator('#notice').textContent()).toBe('You are signed in.');
    expect(await claimsShown(page)).toMatchObject({ sub: aliceId, email: user.email });
    expect((await callApi(page)).status).toBe(`GET ${api!.url}/things → 200`);
    expect(await idportPages()).toEqual(['Sign in']);
    expect(problems).toEqual([]);
    await context.close();
  });

  test('/account lists the app; "Remove access" revokes it: refresh fails, and the next login asks for consent again', async () => {
    const { context, page, problems, idportPages } = await newPage();
    await startLogin(page, app!);
    await signIn(page);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await landOn(page, `${app!.url}/`, () => page.getByRole('button', { name: 'Allow' }).click());
    const { accessToken, refreshToken } = (await appSession(context, app!)).user!;
    const config = await oidc.discovery(new URL(server!.url), client.client_id, client.client_secret, oidc.ClientSecretBasic(client.client_secret), {
      execute: [oidc.allowInsecureRequests],
    });
    expect((await oidc.tokenIntrospection(config, refreshToken!)).active).toBe(true);

    // idport's account page (same browser, so the same idport session) lists the app.
    await page.goto(`${server!.url}/account`);
    expect(await heading(page).textContent()).toBe('Your account');
    const entry = page.locator('ul.apps li', { hasText: appName });
    expect(await entry.count()).toBe(1);
    expect(await entry.textContent()).toContain('read:things');
    await landOn(page, `${server!.url}/account`, () => page.getByRole('button', { name: `Remove access for ${appName}` }).click());
    expect(await page.locator('ul.apps li', { hasText: appName }).count()).toBe(0);

    // The grant and its refresh token are gone: the app's "Refresh tokens" fails with invalid_grant.
    expect((await oidc.tokenIntrospection(config, refreshToken!)).active).toBe(false);
    await page.goto(app!.url);
    await page.getByRole('button', { name: 'Refresh tokens' }).click();
    await page.locator('#error').waitFor();
    expect(await page.locator('#error').textContent()).toMatch(/^Refreshing the tokens failed: invalid_grant\b.*\. Log in again\.$/);
    // … so the app signs the user out on its side too.
    expect(await page.locator('#signed-in-as').count()).toBe(0);
    // (The JWT access token itself is stateless: the API accepts it until it expires. Keep API
    // token lifetimes short, `apis add --ttl`, where revocation must bite sooner.)
    const stillValid = await fetch(`${api!.url}/things`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(stillValid.status).toBe(200);

    // Logging in again asks for consent again (the idport session is still there: no password) …
    await startLogin(page, app!, { offline: false });
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.locator('ul.scopes li code').allTextContents()).toContain('read:things');
    await landOn(page, `${app!.url}/`, () => page.getByRole('button', { name: 'Allow' }).click());
    expect(await page.locator('#notice').textContent()).toBe('You are signed in.');
    // … and once given, consent is remembered: the next login (a new visit to the app, same
    // idport session) goes straight back to the app.
    await context.clearCookies({ name: sessionCookie });
    const landed = await startLogin(page, app!, { offline: false, until: `${app!.url}/` });
    expect(landed.pathname).toBe('/');
    expect(await page.locator('#notice').textContent()).toBe('You are signed in.');

    expect(await idportPages()).toEqual(['Sign in', 'Allow access?', 'Your account', 'Your account', 'Allow access?']);
    expect(problems).toEqual([]);
    await context.close();
  });
});
