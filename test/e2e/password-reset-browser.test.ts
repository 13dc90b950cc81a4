/**
 * The password-reset journey in headless Chromium, phone-sized: "Forgot password?" on the login
 * page, the email (a real SMTP server), its link opened in another browser, the new password, and
 * signing in with it; a browser signed in before is signed out. Then /account's new pages: where
 * the account is signed in (this browser marked) and changing the password. No console errors
 * (the CSP would report there).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';

import { launchChromium } from '../helpers/browser.js';
import { addUser } from '../helpers/flow.js';
import { resetLink, startMailbox, type Mailbox } from '../helpers/mailbox.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const carol = { username: 'carol', password: 'carol has a long passphrase', email: 'carol@example.com', name: 'Carol' };

let browser: Browser | undefined;
let server: TestServer | undefined;
let mailbox: Mailbox;
const contexts: BrowserContext[] = [];
const problems: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  mailbox = await startMailbox();
  server = await startTestServer({ email: { smtpUrl: mailbox.url } });
  await addUser(server.store, carol);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await mailbox?.close();
});
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  expect(problems.splice(0)).toEqual([]);
});

/** A separate phone-sized browser profile that records console errors. */
async function newPage(): Promise<Page> {
  const ctx = await browser!.newContext({ viewport: { width: 375, height: 740 } });
  contexts.push(ctx);
  const p = await ctx.newPage();
  p.setDefaultTimeout(10_000);
  p.on('console', (msg) => {
    // (a refused form answers 400 and a used link 410, which Chromium reports as failed loads: expected)
    if ((msg.type() === 'error' || msg.type() === 'warning') && !/status of 4(00|10)/.test(msg.text())) problems.push(`${msg.type()}: ${msg.text()} @ ${msg.location().url}`);
  });
  p.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return p;
}

async function signIn(p: Page, user: { username: string; password: string }) {
  await p.getByLabel('Username or email').fill(user.username);
  await p.getByLabel('Password', { exact: true }).fill(user.password);
  await Promise.all([p.waitForURL(`${server!.url}/account`), p.getByRole('button', { name: 'Sign in', exact: true }).click()]);
}

type Viewport = { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
const noHorizontalScroll = (p: Page) => p.evaluate(() => ((w: Viewport) => w.document.documentElement.scrollWidth <= w.innerWidth)(globalThis as unknown as Viewport));

test('forgot → email → link in another browser → new password → sign in; the earlier browser is signed out', async () => {
  const before = await newPage();
  await before.goto(`${server!.url}/account`);
  await signIn(before, carol);

  const page = await newPage();
  await page.goto(`${server!.url}/account`);
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.waitForURL(/\/interaction\/[^/]+\/forgot$/);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Forgot your password?');
  await page.getByLabel('Email address').fill('Carol@Example.com');
  await page.getByRole('button', { name: 'Send link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  expect(await page.textContent('main')).toContain('If an account uses Carol@Example.com, we have sent it a link');
  expect(await noHorizontalScroll(page)).toBe(true);

  const link = resetLink(await mailbox.next(carol.email));
  const phone = await newPage();
  await phone.goto(link.href);
  expect(await phone.getByRole('heading', { level: 1 }).textContent()).toBe('Choose a new password');
  const field = phone.getByLabel('New password', { exact: true });
  expect(await field.getAttribute('autocomplete')).toBe('new-password');
  await field.fill('carol');
  await phone.getByRole('button', { name: 'Set new password' }).click();
  await phone.locator('#password-error').waitFor();
  expect(await phone.locator('#password-error').textContent()).toBe('Use at least 8 characters.');
  expect(await phone.getByLabel('New password', { exact: true }).getAttribute('aria-invalid')).toBe('true');
  await phone.getByLabel('New password', { exact: true }).fill('carol chose a new passphrase');
  await phone.getByRole('button', { name: 'Set new password' }).click();
  await phone.getByRole('heading', { name: 'Password changed' }).waitFor();
  expect(await noHorizontalScroll(phone)).toBe(true);
  await phone.getByRole('link', { name: 'Sign in' }).click();
  await signIn(phone, { ...carol, password: 'carol chose a new passphrase' });

  // The browser signed in before the reset has to sign in again.
  await before.goto(`${server!.url}/account`);
  await before.getByLabel('Username or email').waitFor();
  expect(new URL(before.url()).pathname).toMatch(/^\/interaction\//);

  // The link is used: opening it again says so.
  await phone.goto(link.href);
  expect(await phone.getByRole('heading', { level: 1 }).textContent()).toBe('This link no longer works');
});

test('/account: where you are signed in (this browser marked), and a new password signs out here too', async () => {
  const user = { username: 'dan', password: 'dan has a long passphrase', email: 'dan@example.com', name: 'Dan' };
  await addUser(server!.store, user);
  const page = await newPage();
  await page.goto(`${server!.url}/account`);
  await signIn(page, user);
  await page.getByRole('link', { name: 'Where you are signed in' }).click();
  const current = page.locator('ul.sessions li[aria-current="true"]');
  expect(await current.locator('strong').textContent()).toBe('Chrome on Linux');
  expect(await current.locator('.badge').textContent()).toBe('This device');
  expect(await page.getByRole('button', { name: 'Sign out everywhere else' }).count()).toBe(0);
  expect(await noHorizontalScroll(page)).toBe(true);

  await page.getByRole('link', { name: 'Back to your account' }).click();
  await page.getByRole('link', { name: 'Change password' }).click();
  await page.getByLabel('Current password', { exact: true }).fill('not it at all');
  await page.getByLabel('New password', { exact: true }).fill('dan has another passphrase');
  await page.getByRole('button', { name: 'Change password' }).click();
  expect(await page.locator('#current-error').textContent()).toBe('That password is not right.');
  await page.getByLabel('Current password', { exact: true }).fill(user.password);
  await page.getByLabel('New password', { exact: true }).fill('dan has another passphrase');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('heading', { name: 'Password changed' }).waitFor();
  await page.getByRole('link', { name: 'Sign in' }).click();
  await signIn(page, { ...user, password: 'dan has another passphrase' });
});
