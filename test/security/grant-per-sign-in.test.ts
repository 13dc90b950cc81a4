/**
 * One grant per sign-in (browser session × client), consent remembered apart from grants: what
 * happens to one browser's tokens never reaches another browser of the same user and app. Each
 * browser is a separate headless Chromium context going through the real login and consent pages.
 */
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';

import { launchChromium, startRelyingPartySite, type RelyingPartySite } from '../helpers/browser.js';
import { addClient, addUser, alice, discover } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { basic, expectHealthy, type Client } from './helpers.js';

let browser: Browser | undefined;
let server: TestServer | undefined;
let site: RelyingPartySite | undefined;
let confidential: Client;
let spa: Client;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer();
  site = await startRelyingPartySite();
  await addUser(server.store);
  confidential = await addClient(server.store, { client_name: 'Notes', redirect_uris: [site.callback] });
  spa = await addClient(server.store, {
    client_name: 'Notes SPA',
    redirect_uris: [site.callback],
    token_endpoint_auth_method: 'none',
    client_secret: undefined,
  });
});

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  if (server) await expectHealthy(server);
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
});

interface Tokens {
  access: string;
  refresh: string;
}

/** A fresh browser (its own cookies: its own session). */
async function newBrowser(): Promise<Page> {
  const context = await browser!.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

/**
 * Signs alice in to `client` in this browser through the real pages and returns the code that
 * came back to the client's site (seen as the browser's request, since it arrives by redirect),
 * with the verifier to redeem it and whether the consent page was shown.
 */
async function signIn(page: Page, client: Client, scope = 'openid offline_access') {
  const config = await discover(server!.url, client.client_id, client.client_secret);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: site!.callback,
    scope,
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
  });
  const arrived = new Promise<URL>((resolve) => {
    page.on('request', (request) => {
      if (request.url().startsWith(site!.callback)) resolve(new URL(request.url()));
    });
  });
  await page.goto(url.href);
  if (await page.getByLabel('Password').isVisible()) {
    await page.getByLabel('Username or email').fill(alice.username);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }
  await page.getByRole('button', { name: 'Allow' }).click();
  const callback = await arrived;
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code at the callback: ${callback.href}`);
  return { code, verifier };
}

async function token(client: Client, body: Record<string, string>) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (client.client_secret) headers.authorization = basic(client.client_id, client.client_secret);
  else body = { ...body, client_id: client.client_id };
  const res = await fetch(`${server!.url}/token`, { method: 'POST', headers, body: new URLSearchParams(body).toString() });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function redeem(client: Client, { code, verifier }: { code: string; verifier: string }) {
  return token(client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: site!.callback });
}

/** A browser signed in to `client`, with the tokens its code was redeemed for. */
async function signedInBrowser(client: Client = confidential): Promise<{ page: Page; tokens: Tokens; code: { code: string; verifier: string } }> {
  const page = await newBrowser();
  const code = await signIn(page, client);
  const res = await redeem(client, code);
  expect(res.status).toBe(200);
  return { page, code, tokens: { access: res.body.access_token!, refresh: res.body.refresh_token! } };
}

/** The refresh token still works (and its rotated successor is returned). */
async function refreshes(client: Client, tokens: Tokens): Promise<boolean> {
  const res = await token(client, { grant_type: 'refresh_token', refresh_token: tokens.refresh });
  if (res.status !== 200) return false;
  tokens.refresh = res.body.refresh_token ?? tokens.refresh;
  tokens.access = res.body.access_token!;
  return true;
}

async function active(client: Client, value: string): Promise<boolean> {
  const res = await fetch(`${server!.url}/token/introspection`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.client_id, client.client_secret!) },
    body: new URLSearchParams({ token: value }).toString(),
  });
  return ((await res.json()) as { active: boolean }).active;
}

describe('one grant per sign-in (two browsers, one user, one app)', () => {
  test("revoking browser A's access token (RFC 7009) leaves browser B's refresh token working", async () => {
    const a = await signedInBrowser();
    const b = await signedInBrowser();
    const revoked = await fetch(`${server!.url}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(confidential.client_id, confidential.client_secret!) },
      body: new URLSearchParams({ token: a.tokens.access, token_type_hint: 'access_token' }).toString(),
    });
    expect(revoked.status).toBe(200);
    expect(await active(confidential, a.tokens.access)).toBe(false);
    expect(await refreshes(confidential, b.tokens)).toBe(true);
    expect(await active(confidential, b.tokens.access)).toBe(true);
  });

  test("replaying browser C's code revokes what that code issued, and nothing of A's or B's", async () => {
    const a = await signedInBrowser();
    const b = await signedInBrowser();
    const c = await signedInBrowser();
    const replay = await redeem(confidential, c.code);
    expect([replay.status, replay.body.error]).toEqual([400, 'invalid_grant']);
    expect(await active(confidential, c.tokens.access)).toBe(false);
    expect(await refreshes(confidential, c.tokens)).toBe(false);
    for (const other of [a, b]) {
      expect(await active(confidential, other.tokens.access)).toBe(true);
      expect(await refreshes(confidential, other.tokens)).toBe(true);
    }
  });

  test("a public client's refresh-token reuse in browser A logs out A only, not browser B", async () => {
    const a = await signedInBrowser(spa);
    const b = await signedInBrowser(spa);
    const stolen = a.tokens.refresh;
    expect(await refreshes(spa, a.tokens)).toBe(true);
    // the old one again: reuse detected, A's sign-in is revoked
    expect(await refreshes(spa, { access: '', refresh: stolen })).toBe(false);
    expect(await refreshes(spa, a.tokens)).toBe(false);
    expect(await refreshes(spa, b.tokens)).toBe(true);
  });

  test('the consent is remembered across browsers: a new browser signing in without prompt=consent skips the consent page', async () => {
    await signedInBrowser();
    const page = await newBrowser();
    const config = await discover(server!.url, confidential.client_id, confidential.client_secret);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: site!.callback,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    });
    const arrived = new Promise<URL>((resolve) => page.on('request', (r) => r.url().startsWith(site!.callback) && resolve(new URL(r.url()))));
    await page.goto(url.href);
    await page.getByLabel('Username or email').fill(alice.username);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    expect((await arrived).searchParams.get('code')).toEqual(expect.any(String));
  });

  test('"Remove access" on /account revokes every browser\'s tokens for that app and forgets the consent', async () => {
    const a = await signedInBrowser();
    const b = await signedInBrowser();
    await a.page.goto(`${server!.url}/account`);
    const removeNotes = a.page.getByRole('button', { name: 'Remove access for Notes', exact: true });
    await removeNotes.click();
    await a.page.waitForURL(`${server!.url}/account`);
    expect(await removeNotes.count()).toBe(0);
    for (const each of [a, b]) {
      expect(await active(confidential, each.tokens.access)).toBe(false);
      expect(await refreshes(confidential, each.tokens)).toBe(false);
    }
    // forgotten: the next sign-in without prompt=consent asks again
    const page = await newBrowser();
    const config = await discover(server!.url, confidential.client_id, confidential.client_secret);
    await page.goto(
      oidc.buildAuthorizationUrl(config, {
        redirect_uri: site!.callback,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: oidc.randomState(),
      }).href,
    );
    await page.getByLabel('Username or email').fill(alice.username);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Allow access?');
  });
});
