/**
 * The whole sign-up journey in headless Chromium, on a phone-sized screen: an app sends the user
 * to sign in, they choose "Create an account", fill in the real form and land back at the app
 * with a code; then they open the link that reached a real SMTP server, the address is confirmed,
 * and userinfo says `email_verified: true`.
 */
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';

import { launchChromium, startRelyingPartySite, type RelyingPartySite } from '../helpers/browser.js';
import { addClient, discover } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signupSettings } from '../helpers/signup.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';

let browser: Browser | undefined;
let server: TestServer | undefined;
let site: RelyingPartySite | undefined;
let smtp: SmtpSink | undefined;

beforeAll(async () => {
  browser = await launchChromium();
  smtp = await startSmtpSink();
  server = await startTestServer(signupSettings(smtp.url));
  site = await startRelyingPartySite();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.stop();
  await smtp?.close();
});

/** The page's width as laid out (the project's type-check has no DOM lib). */
const scrollWidth = () => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth;

test('sign up from an app on a phone, back at the app with a code; the emailed link confirms the address; userinfo says email_verified', async () => {
  const client = await addClient(server!.store, { client_name: 'Notes', redirect_uris: [site!.callback] });
  const config = await discover(server!.url, client.client_id, client.client_secret);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: site!.callback,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'journey',
  });
  const context = await browser!.newContext({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  // (the refused form answers 400, which Chromium reports as a failed load: expected)
  page.on('console', (m) => m.type() === 'error' && !/status of 400/.test(m.text()) && problems.push(m.text()));
  const arrived = new Promise<URL>((resolve) => page.on('request', (r) => r.url().startsWith(site!.callback) && resolve(new URL(r.url()))));

  // 1. the app's sign-in request → the login page → "Create an account"
  await page.goto(url.href);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Create your account' }).waitFor();
  expect(await page.evaluate(scrollWidth)).toBeLessThanOrEqual(375);

  // 2. a weak password first: the error is tied to its field, the rest is kept
  await page.getByLabel('Email address').fill('dana@example.com');
  await page.getByLabel('Your name').fill('Dana Scully');
  await page.getByLabel('Password', { exact: true }).fill('password');
  await page.getByRole('button', { name: 'Create account' }).click();
  const password = page.getByLabel('Password', { exact: true });
  await expect(password.getAttribute('aria-invalid')).resolves.toBe('true');
  await expect(page.getByText('This password is one of the most common ones').isVisible()).resolves.toBe(true);
  expect(await page.getByLabel('Your name').inputValue()).toBe('Dana Scully');

  // 3. a good one: consent for the app, then back at the app with a code
  await password.fill('trust no one, not even the cat');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  const callback = await arrived;
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'journey', idTokenExpected: true });
  const sub = tokens.claims()!.sub;
  expect((await oidc.fetchUserInfo(config, tokens.access_token, sub)).email_verified).toBe(false);

  // 4. the link in the email, opened in the same browser: confirmed; on to /account
  const mail = await smtp!.next();
  expect(mail.to).toEqual(['dana@example.com']);
  await page.goto(mail.link!);
  await page.getByRole('heading', { level: 1, name: 'Email address confirmed' }).waitFor();
  await page.getByRole('link', { name: 'Go to your account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  expect(await page.getByText('dana@example.com').first().isVisible()).toBe(true);

  const info = await oidc.fetchUserInfo(config, tokens.access_token, sub);
  expect(info).toMatchObject({ sub, email: 'dana@example.com', email_verified: true, name: 'Dana Scully', preferred_username: 'dana@example.com' });
  expect(problems).toEqual([]);
  await context.close();
});
