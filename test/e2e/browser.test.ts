/**
 * The login, consent and logout pages driven for real in headless Chromium (Debian's
 * /usr/bin/chromium through playwright-core), with openid-client as the relying party and a
 * real HTTP server standing in for the client's web site.
 */
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';

import { launchChromium, startRelyingPartySite, type RelyingPartySite } from '../helpers/browser.js';
import { addClient, addUser, alice, discover } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const clientName = 'Browser Test App';
const scope = 'openid profile email';
const screenshotPath = '/tmp/idport-login-mobile.png';

let browser: Browser | undefined;
let server: TestServer | undefined;
let site: RelyingPartySite | undefined;
let config: oidc.Configuration;
let aliceId: string;

beforeAll(async () => {
  // First, so that a missing Chromium fails every test with the install hint.
  browser = await launchChromium();
  server = await startTestServer();
  site = await startRelyingPartySite();
  aliceId = (await addUser(server.store)).id;
  const client = await addClient(server.store, {
    client_name: clientName,
    redirect_uris: [site.callback],
    post_logout_redirect_uris: [site.loggedOut],
  });
  config = await discover(server.url, client.client_id, client.client_secret);
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
});

/** A fresh browser profile (no cookies) whose pages fail fast and report console errors. */
async function newPage(options: Parameters<Browser['newContext']>[0] = {}) {
  const context: BrowserContext = await browser!.newContext(options);
  const page: Page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(10_000);
  // CSP violations (a blocked stylesheet, say) and script errors show up here.
  const problems: string[] = [];
  // (idport serves no favicon; Chromium's automatic request for one is not a page problem.)
  page.on('console', (msg: ConsoleMessage) => {
    const where = msg.location().url;
    if ((msg.type() === 'error' || msg.type() === 'warning') && !where.endsWith('/favicon.ico')) {
      problems.push(`${msg.type()}: ${msg.text()} @ ${where}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return { context, page, problems };
}

async function authorizationRequest(extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: site!.callback,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** Runs `action` and resolves with the URL the browser lands on at `target` (reached by redirects). */
async function landOn(page: Page, target: string, action: () => Promise<unknown>): Promise<URL> {
  // page.route does not see requests reached through a redirect; waitForURL does.
  const landed = page.waitForURL((u) => u.href.startsWith(target), { waitUntil: 'load' });
  await action();
  await landed;
  return new URL(page.url());
}

/**
 * The browser's globals, for functions run in the page: the project's type-check has no DOM lib.
 * (Playwright sends such functions as source text, so they must not call helpers from here.)
 */
interface BrowserGlobals {
  getComputedStyle(el: unknown): { backgroundColor: string };
  document: { documentElement: { scrollWidth: number } };
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 });

/** Opens the authorization URL and checks the login page is served the way a browser needs it. */
async function openLoginPage(page: Page, url: URL) {
  const response = await page.goto(url.href);
  expect(response).not.toBeNull();
  expect(response!.status()).toBe(200);
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[\w-]+$/);
  expect(await heading(page).textContent()).toBe('Sign in');
  return response!;
}

async function signIn(page: Page, password = alice.password) {
  await page.getByLabel('Username or email').fill(alice.username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

describe('login, consent and logout pages in headless Chromium', () => {
  test('code flow with PKCE through the real pages, then RP-initiated logout ends the session', async () => {
    const { context, page, problems } = await newPage();
    const request = await authorizationRequest();

    // The login page, and what it tells the browser about framing and caching.
    const response = await openLoginPage(page, request.url);
    const headers = await response.allHeaders();
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['cache-control']).toContain('no-store');
    expect(headers['x-frame-options']).toBe('DENY');
    await expect(page.title()).resolves.toBe('Sign in · idport');
    expect(await page.locator('.lead strong').textContent()).toBe(clientName);
    // The stylesheet loaded under the CSP and applies (the primary button is the accent blue).
    const signInButton = page.getByRole('button', { name: 'Sign in', exact: true });
    expect(await signInButton.evaluate((el) => (globalThis as unknown as BrowserGlobals).getComputedStyle(el).backgroundColor)).toBe('rgb(11, 87, 208)');

    // A wrong password: the same page again, with the generic error and the username kept.
    await signIn(page, 'not the password');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect((await alert.textContent())?.trim()).toBe('The username or password is incorrect.');
    expect(await heading(page).textContent()).toBe('Sign in');
    expect(await page.getByLabel('Username or email').inputValue()).toBe(alice.username);
    expect(await page.getByLabel('Password').inputValue()).toBe('');
    expect(await page.getByLabel('Username or email').getAttribute('aria-describedby')).toBe('login-error');

    // The right password leads to the consent page.
    await signIn(page);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.locator('.lead').textContent()).toContain(clientName);
    expect(await page.locator('.lead').textContent()).toContain(`(${alice.username})`);
    const listed = await page.locator('ul.scopes li code').allTextContents();
    expect(listed.sort()).toEqual(['email', 'openid', 'profile']);

    const callback = await landOn(page, site!.callback, () => page.getByRole('button', { name: 'Allow' }).click());
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('iss')).toBe(server!.url);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(await page.locator('body').textContent()).toBe('ok');
    expect(site!.hits.some((hit) => hit.pathname === '/callback' && hit.searchParams.get('code') === callback.searchParams.get('code'))).toBe(true);

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(aliceId);
    expect(claims.iss).toBe(server!.url);
    expect(claims.nonce).toBe(request.nonce);

    // While signed in, prompt=none succeeds silently (the control for the check after logout).
    const silent = await authorizationRequest({ prompt: 'none' });
    const silentBack = await landOn(page, site!.callback, () => page.goto(silent.url.href));
    expect(silentBack.searchParams.get('error')).toBeNull();
    expect(silentBack.searchParams.get('code')).toBeTruthy();
    expect(silentBack.searchParams.get('state')).toBe(silent.state);

    // RP-initiated logout: confirmation page, then back to the client with its state.
    const logoutState = oidc.randomState();
    const endSession = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: site!.loggedOut,
      state: logoutState,
    });
    await page.goto(endSession.href);
    expect(await heading(page).textContent()).toBe('Sign out?');
    expect(await page.locator('.lead').textContent()).toContain(clientName);
    const loggedOut = await landOn(page, site!.loggedOut, () => page.getByRole('button', { name: 'Yes, sign me out' }).click());
    expect(loggedOut.searchParams.get('state')).toBe(logoutState);
    expect(await page.locator('body').textContent()).toBe('ok');

    // The session really ended: prompt=none now comes back with login_required.
    const after = await authorizationRequest({ prompt: 'none' });
    const afterBack = await landOn(page, site!.callback, () => page.goto(after.url.href));
    expect(afterBack.searchParams.get('error')).toBe('login_required');
    expect(afterBack.searchParams.get('state')).toBe(after.state);
    expect(afterBack.searchParams.get('code')).toBeNull();

    expect(problems).toEqual([]);
    await context.close();
  });

  test('Deny on the consent page returns access_denied to the client', async () => {
    const { context, page, problems } = await newPage();
    // alice agreed to this app in an earlier test, and that is remembered: ask again on purpose
    const request = await authorizationRequest({ prompt: 'consent' });
    await openLoginPage(page, request.url);
    await signIn(page);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();

    const callback = await landOn(page, site!.callback, () => page.getByRole('button', { name: 'Deny' }).click());
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('code')).toBeNull();
    expect(problems).toEqual([]);
    await context.close();
  });

  test('the login page fits a phone screen (375x667)', async () => {
    const width = 375;
    const { context, page, problems } = await newPage({
      viewport: { width, height: 667 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    const request = await authorizationRequest();
    await openLoginPage(page, request.url);
    await page.screenshot({ path: screenshotPath, fullPage: true });

    const button = page.getByRole('button', { name: 'Sign in', exact: true });
    expect(await button.isVisible()).toBe(true);
    const box = await button.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(width);
    for (const label of ['Username or email', 'Password']) {
      const field = await page.getByLabel(label).boundingBox();
      expect(field!.x).toBeGreaterThanOrEqual(0);
      expect(field!.x + field!.width).toBeLessThanOrEqual(width);
    }
    // Nothing makes the page scroll sideways.
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    expect(problems).toEqual([]);
    await context.close();
  });

  test('the login page refuses to be framed by another site', async () => {
    const { context, page } = await newPage();
    const framing: string[] = [];
    page.on('console', (msg: ConsoleMessage) => {
      if (/frame-ancestors|X-Frame-Options/i.test(msg.text())) framing.push(msg.text());
    });
    const request = await authorizationRequest();
    await page.goto(site!.origin + '/framer');
    await page.setContent(`<iframe id="idp" src="${request.url.href}" width="400" height="600"></iframe>`);
    const deadline = Date.now() + 5000;
    while (!framing.length && Date.now() < deadline) await page.waitForTimeout(50);
    expect(framing.join('\n')).toMatch(/frame-ancestors 'none'/);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(await frame?.locator('#login').count()).toBe(0);
    await context.close();
  });
});
