/**
 * The device authorization grant (RFC 8628) end to end: the example command-line app
 * (examples/device-cli, run as its own process with one command) prints a code, a person enters
 * it at idport's /device page in headless Chromium, signs in and consents, and the app receives
 * tokens, prints the ID-token claims and calls the example API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';

import { start as startApi, type RunningApi } from '../../examples/api/server.mjs';
import { launchChromium } from '../helpers/browser.js';
import { cli, killChildren, root, type Run } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const audience = 'https://api.example.com';
const user = { username: 'dana', password: 'a long passphrase for dana', email: 'dana@example.com', name: 'Dana Scully' };
const deviceAppName = 'Example Device App';

let browser: Browser | undefined;
let server: TestServer | undefined;
let api: RunningApi | undefined;
let clientId: string;
let danaId: string;
const deviceApps = new Set<ChildProcess>();

function json(run: Run): Record<string, unknown> {
  if (run.code !== 0) throw new Error(`idport CLI failed (${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer();
  const db = `sqlite:${join(server.dir, 'idport.db')}`;
  json(await cli(db, ['apis', 'add', '--audience', audience, '--scope', 'read:things', '--scope', 'write:things', '--json']));
  danaId = json(
    await cli(db, ['users', 'add', '--username', user.username, '--password-stdin', '--email', user.email, '--name', user.name, '--email-verified', '--json'], user.password),
  ).sub as string;
  const added = json(
    await cli(db, ['clients', 'add', '--name', deviceAppName, '--grant-type', 'device_code', '--public', '--scope', 'openid profile email read:things', '--json']),
  );
  expect(added.client_secret).toBeUndefined();
  clientId = added.client_id as string;
  api = await startApi({ issuer: server.url, audience, port: 0 });
}, 30_000);

afterAll(async () => {
  for (const child of deviceApps) child.kill('SIGKILL');
  killChildren();
  await browser?.close();
  await api?.close();
  await server?.stop();
});

/** `node examples/device-cli/device.mjs` with its environment; output collected as it comes. */
function startDeviceApp() {
  const env: NodeJS.ProcessEnv = { ...process.env, ISSUER: server!.url, CLIENT_ID: clientId, API_AUDIENCE: audience, API_URL: api!.url };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['examples/device-cli/device.mjs'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  deviceApps.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => (deviceApps.delete(child), resolve(code))));
  /** Resolves with the first match of `pattern` in stdout. */
  const waitFor = async (pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(stdout);
      if (match) return match;
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`the device app did not print ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, exited, waitFor, output: () => ({ stdout, stderr }) };
}

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
  return { context, page, problems };
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 });

describe('device authorization grant with the example command-line app', () => {
  test('the app prints a code; entered at /device with sign-in and consent, the app gets tokens, prints the claims and calls the API', async () => {
    const device = startDeviceApp();
    const [, verificationUri] = await device.waitFor(/To sign in, open (\S+)\n/);
    const [, userCode] = await device.waitFor(/and enter the code: ([A-Z]{4}-[A-Z]{4})\n/);
    expect(verificationUri).toBe(`${server!.url}/device`);

    const { context, page, problems } = await newPage();
    await page.goto(verificationUri!);
    expect(await heading(page).textContent()).toBe('Connect a device');
    await page.getByLabel('Code').fill(userCode!.toLowerCase().replace('-', ' ')); // as a person might type it
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.getByRole('heading', { name: `Connect ${deviceAppName}?` }).waitFor();
    expect(await page.locator('.code-display').textContent()).toBe(userCode);
    await page.getByRole('button', { name: 'Yes, continue' }).click();

    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Username or email').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.locator('.lead').textContent()).toContain(deviceAppName);
    expect((await page.locator('ul.scopes li code').allTextContents()).sort()).toEqual(['email', 'openid', 'profile', 'read:things']);
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    expect(await page.locator('.lead').textContent()).toContain(deviceAppName);

    // The app polls at the interval idport asks for (5 s), then prints what it got.
    const [, claimsJson] = await device.waitFor(/Signed in\. ID token claims:\n(\{[\s\S]*?\n\})\n/, 15_000);
    const claims = JSON.parse(claimsJson!) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: danaId, iss: server!.url, aud: clientId, email: user.email, name: user.name });
    await device.waitFor(/Access token: scope "read:things"/);
    const [, apiJson] = await device.waitFor(new RegExp(`API GET ${api!.url}/things → 200\\n(\\{[\\s\\S]*?\\n\\})\\n`));
    expect(JSON.parse(apiJson!)).toMatchObject({ caller: { sub: danaId, client_id: clientId, scopes: ['read:things'] } });
    expect(await device.exited).toBe(0);
    expect(device.output().stderr).toBe('');

    // A code works once: entering it again is refused.
    await page.goto(`${server!.url}/device`);
    await page.getByLabel('Code').fill(userCode!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('That code is not valid or has expired. Check it and try again.');

    expect(problems).toEqual([]);
    await context.close();
  }, 30_000);

  test('a wrong code shows an error on /device and keeps the form', async () => {
    const { context, page, problems } = await newPage();
    await page.goto(`${server!.url}/device`);
    await page.getByLabel('Code').fill('BCDF-GHJK');
    await page.getByRole('button', { name: 'Continue' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('That code is not valid or has expired. Check it and try again.');
    expect(await heading(page).textContent()).toBe('Connect a device');
    expect(await page.getByLabel('Code').getAttribute('aria-describedby')).toBe('code-error');
    expect(problems).toEqual([]);
    await context.close();
  });

  test('denying on the device page ends the app with access_denied', async () => {
    const device = startDeviceApp();
    const [, userCode] = await device.waitFor(/and enter the code: ([A-Z]{4}-[A-Z]{4})\n/);
    const { context, page } = await newPage();
    await page.goto(`${server!.url}/device`);
    await page.getByLabel('Code').fill(userCode!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'No, cancel' }).click();
    await page.getByRole('alert').waitFor();
    expect(await device.exited).toBe(1);
    expect(device.output().stderr).toMatch(/^device example: access_denied/);
    await context.close();
  }, 20_000);
});
