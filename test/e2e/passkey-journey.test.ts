/**
 * The whole passkey journey through the real pages, in headless Chromium with a virtual
 * authenticator: sign in to /account with a password, add a passkey there, sign out, then sign in
 * to an app with the passkey alone (no username typed) and get an ID token that says so.
 */
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';

import { launchChromium, startRelyingPartySite, type RelyingPartySite } from '../helpers/browser.js';
import { addClient, addUser, alice, discover } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let browser: Browser | undefined;
let server: TestServer | undefined;
let site: RelyingPartySite | undefined;

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer({ host: 'localhost' });
  site = await startRelyingPartySite();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
});

test('add a passkey on /account, sign out, sign in to an app with the passkey alone: amr says a key and mfa', async () => {
  const aliceId = (await addUser(server!.store)).id;
  const client = await addClient(server!.store, { client_name: 'Notes', redirect_uris: [site!.callback], first_party: true });
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });

  // 1. /account with the password, then "Add a passkey"
  await page.goto(`${server!.url}/account`);
  await page.getByLabel('Username or email').fill(alice.username);
  await page.getByLabel('Password').fill(alice.password);
  await Promise.all([page.waitForURL(`${server!.url}/account`), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  await page.getByLabel('Name for a new passkey').fill('My phone');
  await Promise.all([page.waitForURL(/notice=passkey-added/), page.getByRole('button', { name: 'Add a passkey' }).click()]);
  expect((await server!.store.factors.listPasskeys(aliceId)).map((p) => p.name)).toEqual(['My phone']);

  // 2. sign out
  await page.goto(`${server!.url}/session/end`);
  await Promise.all([page.waitForURL(/\/session\/end\/success/), page.getByRole('button', { name: 'Yes, sign me out' }).click()]);

  // 3. the app sends alice to sign in; she uses the passkey, types nothing
  const config = await discover(server!.url, client.client_id, client.client_secret);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: site!.callback,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'journey',
  });
  const arrived = new Promise<URL>((resolve) => page.on('request', (r) => r.url().startsWith(site!.callback) && resolve(new URL(r.url()))));
  await page.goto(url.href);
  // the browser offers the passkey in the username field's autofill, which Chromium's virtual
  // authenticator accepts at once; otherwise the button does it
  const button = page.getByRole('button', { name: 'Sign in with a passkey' });
  await Promise.race([arrived, button.click({ timeout: 5000 }).catch(() => undefined)]);
  const callback = await arrived;
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'journey', idTokenExpected: true });
  const claims = tokens.claims()!;
  expect(claims.sub).toBe(aliceId);
  expect(claims.amr).toEqual([expect.stringMatching(/^(hwk|swk)$/), 'mfa']);
  expect(claims.acr).toBe('urn:idport:acr:mfa');
  expect((await server!.store.factors.listPasskeys(aliceId))[0]!.lastUsedAt).toEqual(expect.any(Number));
  await context.close();
});
