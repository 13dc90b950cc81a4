/**
 * Sign-in methods on /account in headless Chromium: a passkey enrolled with Chromium's virtual
 * authenticator (WebAuthn over CDP), renamed and removed; an authenticator app set up with a code
 * computed from the key the page shows; recovery codes shown once and stored hashed; the page in
 * Korean and on a phone-sized screen. The issuer is http://localhost:PORT (an IP cannot be an RP ID).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

import { hashRecoveryCode } from '../../src/factors/recovery-codes.js';
import { base32Decode, hotp, totpStep } from '../../src/factors/totp.js';
import { launchChromium } from '../helpers/browser.js';
import { addUser, alice } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const bob = { username: 'bob', password: 'bob has a long passphrase', email: 'bob@example.com', name: 'Bob' };

let browser: Browser | undefined;
let server: TestServer | undefined;
let aliceId: string;
/** alice's browser, signed in once (with a second factor, signing in again would take a second step) */
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

/** A phone-sized browser profile that records console errors (CSP violations show up there). */
async function newPage(options: Parameters<Browser['newContext']>[0] = {}) {
  const ctx = await browser!.newContext({ viewport: { width: 375, height: 740 }, ...options });
  const p = await ctx.newPage();
  p.setDefaultTimeout(10_000);
  p.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()} @ ${msg.location().url}`);
  });
  p.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return { ctx, p };
}

/** Opens /account and signs in on the login page (by field ids: the page may be in any language). */
async function signInToAccount(p: Page, user: { username: string; password: string }) {
  await p.goto(`${server!.url}/account`);
  await p.locator('#login').fill(user.username);
  await p.locator('#password').fill(user.password);
  await Promise.all([p.waitForURL(`${server!.url}/account`), p.locator('#password').press('Enter')]);
}

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer({ host: 'localhost' });
  expect(server.url).toMatch(/^http:\/\/localhost:\d+$/);
  aliceId = (await addUser(server.store)).id;
  await addUser(server.store, bob);
  ({ ctx: context, p: page } = await newPage());
  await signInToAccount(page, alice);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

afterEach(() => {
  expect(problems.splice(0)).toEqual([]);
});

const passkeyItems = () => page.locator('ul.factors li');
const status = () => page.getByRole('status');

/** Runs `action` and waits for the page it leads to (a redirect back to /account, or a page). */
async function submit(action: () => Promise<unknown>, url: string | RegExp) {
  await Promise.all([page.waitForURL(url, { waitUntil: 'load' }), action()]);
}

test('a passkey is enrolled with the virtual authenticator, renamed and removed', async () => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });

  expect(await page.getByRole('heading', { level: 2, name: 'Sign-in methods' }).isVisible()).toBe(true);
  expect(await passkeyItems().count()).toBe(0);
  // Shown only where WebAuthn works (passkey.js unhides it); the name is prefilled.
  const name = page.getByLabel('Name for a new passkey');
  expect(await name.inputValue()).toBe('Passkey 1');
  await name.fill('Work laptop');
  await submit(() => page.getByRole('button', { name: 'Add a passkey' }).click(), /\/account\?notice=passkey-added/);
  expect(await status().textContent()).toBe('Passkey added.');
  expect(await passkeyItems().count()).toBe(1);
  expect(await passkeyItems().first().locator('strong').textContent()).toBe('Work laptop');
  expect(await passkeyItems().first().textContent()).toContain('not used yet');

  const stored = await server!.store.factors.listPasskeys(aliceId);
  expect(stored).toEqual([expect.objectContaining({ name: 'Work laptop', accountId: aliceId, deviceType: 'singleDevice' })]);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url')).toBe(stored[0]!.id);
  expect(credentials[0]!.isResidentCredential).toBe(true);
  expect(Buffer.from(credentials[0]!.userHandle!, 'base64').toString()).toBe(aliceId);

  // Rename: a disclosure per passkey, no script needed.
  await page.getByText('Rename', { exact: false }).first().click();
  await page.getByLabel('New name').fill('  Old laptop  ');
  await submit(() => page.getByRole('button', { name: 'Save name' }).click(), /notice=passkey-renamed/);
  expect(await status().textContent()).toBe('Passkey renamed.');
  expect(await passkeyItems().first().locator('strong').textContent()).toBe('Old laptop');
  expect((await server!.store.factors.findPasskey(stored[0]!.id))!.name).toBe('Old laptop');

  // Enrolling the same authenticator again is refused by the browser (excludeCredentials): nothing new.
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.locator('[data-passkey-error]').waitFor({ state: 'visible' });
  expect(await page.locator('[data-passkey-error]').textContent()).toBe('The passkey was not added. Try again, or use another device.');
  expect(await server!.store.factors.listPasskeys(aliceId)).toHaveLength(1);

  await submit(() => page.getByRole('button', { name: 'Remove passkey Old laptop' }).click(), /notice=passkey-removed/);
  expect(await status().textContent()).toBe('Passkey removed.');
  expect(await passkeyItems().count()).toBe(0);
  expect(await server!.store.factors.listPasskeys(aliceId)).toEqual([]);
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  await cdp.detach();
});

/** The 6-digit code an authenticator app with this key shows now. */
const codeFor = (key: string) => hotp(base32Decode(key)!, totpStep(Date.now()));

/** The database files' bytes (SQLite, WAL), to check a recovery code was never written in the clear. */
const databaseText = () =>
  ['idport.db', 'idport.db-wal'].map((f) => {
    try {
      return readFileSync(join(server!.dir, f)).toString('latin1');
    } catch {
      return '';
    }
  }).join('');

test('an authenticator app is set up with a code from the shown key; recovery codes are shown once, stored hashed, and renewed', async () => {
  await submit(() => page.getByRole('link', { name: 'Set up an authenticator app' }).click(), `${server!.url}/account/totp`);
  expect(await page.title()).toBe('Set up an authenticator app · idport');
  expect(await page.getByRole('img', { name: 'QR code for your authenticator app' }).locator('svg').isVisible()).toBe(true);
  const key = (await page.locator('#totp-secret').textContent())!;
  expect(key).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);

  // A wrong code (not the code of any step near now): refused, same key, nothing stored.
  const near = [-1, 0, 1].map((d) => hotp(base32Decode(key)!, totpStep(Date.now()) + d));
  let wrong = '123456';
  while (near.includes(wrong)) wrong = String(Number(wrong) + 1);
  await page.getByLabel('Code from the app').fill(wrong);
  await submit(() => page.getByRole('button', { name: 'Turn on' }).click(), `${server!.url}/account/totp`);
  expect(await page.getByRole('alert').textContent()).toBe('That code does not match. Check the time on your device and try again.');
  expect(await page.locator('#totp-secret').textContent()).toBe(key);
  expect(await server!.store.factors.getTotp(aliceId)).toBeUndefined();

  await page.getByLabel('Code from the app').fill(codeFor(key));
  await submit(() => page.getByRole('button', { name: 'Turn on' }).click(), `${server!.url}/account/totp`);
  expect(await page.title()).toBe('Your recovery codes · idport');
  expect(await status().textContent()).toBe('Authenticator app set up.');
  const codes = await page.locator('ol.codes code').allTextContents();
  expect(codes).toHaveLength(10);
  for (const code of codes) expect(code).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
  expect(await server!.store.factors.getTotp(aliceId)).toBeDefined();
  expect(await server!.store.factors.countRecoveryCodes(aliceId)).toBe(10);
  const db = databaseText();
  for (const code of codes) {
    expect(db).not.toContain(code);
    expect(db).not.toContain(code.replace(/-/g, ''));
  }

  // Back on /account: the codes are not shown again, only how many are left.
  await submit(() => page.getByRole('link', { name: 'Done: back to your account' }).click(), `${server!.url}/account#security`);
  const account = (await page.content()).replace(/-/g, '');
  for (const code of codes) expect(account).not.toContain(code.replace(/-/g, ''));
  expect(await page.getByText('Unused codes: 10.').isVisible()).toBe(true);
  expect(await page.getByText('On: after your password, you enter a code from your authenticator app.').isVisible()).toBe(true);

  // New codes replace the old ones.
  await submit(() => page.getByRole('button', { name: 'Create new codes' }).click(), `${server!.url}/account/recovery-codes`);
  const renewed = await page.locator('ol.codes code').allTextContents();
  expect(renewed).toHaveLength(10);
  expect(renewed.filter((c) => codes.includes(c))).toEqual([]);
  expect(await page.getByText('They are shown only now.', { exact: false }).isVisible()).toBe(true);
  expect(await server!.store.factors.useRecoveryCode(aliceId, hashRecoveryCode(codes[0]!))).toBe(false);
  expect(await server!.store.factors.useRecoveryCode(aliceId, hashRecoveryCode(renewed[0]!))).toBe(true);
  expect(await server!.store.factors.countRecoveryCodes(aliceId)).toBe(9);

  await page.goto(`${server!.url}/account`);
  await submit(() => page.getByRole('button', { name: 'Remove authenticator app' }).click(), /notice=totp-removed/);
  expect(await status().textContent()).toBe('Authenticator app removed.');
  expect(await server!.store.factors.getTotp(aliceId)).toBeUndefined();
  expect(await page.getByRole('link', { name: 'Set up an authenticator app' }).isVisible()).toBe(true);
});

test('in Korean, on a phone-sized screen: the sign-in methods fit without sideways scrolling', async () => {
  const { ctx, p } = await newPage({ locale: 'ko-KR', viewport: { width: 360, height: 740 } });
  await signInToAccount(p, bob);
  expect(await p.locator('html').getAttribute('lang')).toBe('ko');
  expect(await p.getByRole('heading', { level: 2, name: '로그인 방법' }).isVisible()).toBe(true);
  expect(await p.getByRole('button', { name: '패스키 추가' }).isVisible()).toBe(true);
  expect(await p.getByLabel('새 패스키 이름').inputValue()).toBe('패스키 1');
  expect(await p.getByRole('link', { name: '인증 앱 설정' }).isVisible()).toBe(true);
  const width = () => p.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
  expect(await width()).toBeLessThanOrEqual(360);
  await Promise.all([p.waitForURL(`${server!.url}/account/totp`), p.getByRole('link', { name: '인증 앱 설정' }).click()]);
  expect(await p.getByRole('heading', { level: 1 }).textContent()).toBe('인증 앱 설정');
  expect(await width()).toBeLessThanOrEqual(360);
  const qr = await p.locator('.qr svg').boundingBox();
  expect(qr!.width).toBeGreaterThanOrEqual(150);
  await ctx.close();
});
