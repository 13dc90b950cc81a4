/**
 * Signing in to idport through an upstream OpenID provider, end to end: two real idport processes,
 * B registered in A as the upstream "Bee SSO" (B has its own users and A as a client), driven in
 * headless Chromium. A's login page → "Continue with Bee SSO" → B's login (and consent) → back at
 * A → the app redeems A's code with openid-client and gets A's tokens with A's own `sub`. Also: the
 * second sign-in finds the same account; an existing A account with the same verified email is
 * linked only after its password is proven; an address B has not verified never links; unlinking
 * on /account (refused when it is the account's last way in); an upstream that does not answer.
 *
 * The two issuers are on different hosts (A http://localhost:PORT, B http://127.0.0.1:PORT):
 * cookies ignore ports, and both would use the same cookie names on one host.
 */
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';

import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/types.js';
import { launchChromium, startRelyingPartySite, type RelyingPartySite } from '../helpers/browser.js';
import { cli } from '../helpers/cli.js';
import { discover } from '../helpers/flow.js';
import { killAll, mainScript, output, spawnIdport, waitFor, type IdportProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/server.js';

interface Node {
  name: string;
  port: number;
  issuer: string;
  dir: string;
  databaseUrl: string;
  proc?: IdportProcess;
}

interface User {
  username: string;
  password: string;
  email: string;
  name: string;
}

const upstreamName = 'Bee SSO';
const downName = 'Down SSO';
const scope = 'openid email profile';

// B's users (the upstream's own accounts)
const bobAtB: User = { username: 'bob', password: 'bob signs in at bee', email: 'bob@example.com', name: 'Bob B' };
const carolAtB: User = { username: 'carol', password: 'carol signs in at bee', email: 'carol@example.com', name: 'Carol at B' };
const daveAtB: User = { username: 'dave', password: 'dave signs in at bee', email: 'dave@example.com', name: 'Dave at B' };
// A's own accounts, with passwords
const carolAtA: User = { username: 'carol', password: 'carol has a long passphrase at A', email: 'carol@example.com', name: 'Carol A' };
const daveAtA: User = { username: 'dave', password: 'dave has a long passphrase at A', email: 'dave@example.com', name: 'Dave A' };
const erinAtA: User = { username: 'erin', password: 'erin has a long passphrase at A', email: 'erin@example.com', name: 'Erin A' };

let a: Node;
let b: Node;
let browser: Browser | undefined;
let site: RelyingPartySite | undefined;
/** A's store, opened beside the running A (SQLite, WAL): to read the links it made */
let storeA: Store | undefined;
/** the app's openid-client configuration at A */
let app: oidc.Configuration;
/** B's `sub` of each B user */
const subAtB = new Map<string, string>();
/** A's `sub` of each A account made with the CLI */
const subAtA = new Map<string, string>();
/** A's client id at B */
let clientIdAtB: string;
/** A's account for bob, made just in time at his first sign-in (test 1) */
let bobAtA: string | undefined;
const contexts: BrowserContext[] = [];
/** each page's problems, for the message of a step that did not arrive */
const problemsOf = new WeakMap<Page, string[]>();

/** A free TCP port on 127.0.0.1 (listened on, then closed again). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function node(name: string, port: number, host: string): Node {
  const dir = tempDir();
  return { name, port, issuer: `http://${host}:${port}`, dir, databaseUrl: `sqlite:${join(dir, 'idport.db')}` };
}

/** `idport …args --json` against a node's store; fails with its output unless it exits 0. */
async function run<T = Record<string, unknown>>(n: Node, args: string[]): Promise<T> {
  const r = await cli(n.databaseUrl, [...args, '--json'], undefined, 40_000, { ISSUER: n.issuer });
  if (r.code !== 0) throw new Error(`${n.name}: idport ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function addUser(n: Node, user: User, { verified }: { verified: boolean }): Promise<string> {
  const args = ['users', 'add', '--username', user.username, '--password', user.password, '--email', user.email, '--name', user.name];
  const added = await run<{ sub: string }>(n, verified ? [...args, '--email-verified'] : args);
  return added.sub;
}

const usersOf = async (n: Node) => (await run<{ users: { sub: string; username: string; email: string | null; email_verified: boolean }[] }>(n, ['users', 'list'])).users;

/** Starts `node dist/main.js` for the node and waits for its startup line. */
async function start(n: Node): Promise<void> {
  const proc = spawnIdport(mainScript, [], {
    env: { PORT: String(n.port), HOST: '127.0.0.1', ISSUER: n.issuer, DATABASE_URL: n.databaseUrl, LOG_LEVEL: 'warn' },
  });
  n.proc = proc;
  await waitFor(`${n.name} to serve ${n.issuer}`, 40_000, () => {
    if (proc.child.exitCode !== null) throw new Error(`${n.name} exited ${proc.child.exitCode}${output(proc)}`);
    return proc.stdout().includes(`idport is serving ${n.issuer} (`) ? true : undefined;
  }, () => output(proc));
}

beforeAll(async () => {
  browser = await launchChromium();
  site = await startRelyingPartySite();
  const [portA, portB, closedPort] = [await freePort(), await freePort(), await freePort()];
  a = node('A', portA, 'localhost');
  b = node('B', portB, '127.0.0.1');

  // B: its users, and A as a client (A sends PKCE, state and nonce)
  const atB = (async () => {
    subAtB.set('bob', await addUser(b, bobAtB, { verified: true }));
    subAtB.set('carol', await addUser(b, carolAtB, { verified: true }));
    // B has not verified dave's address
    subAtB.set('dave', await addUser(b, daveAtB, { verified: false }));
    return run<{ client_id: string; client_secret: string }>(b, ['clients', 'add', '--name', 'Service A', '--redirect-uri', `${a.issuer}/upstream/b/callback`]);
  })();
  // A: its own accounts and the app
  const atA = (async () => {
    subAtA.set('carol', await addUser(a, carolAtA, { verified: true }));
    subAtA.set('dave', await addUser(a, daveAtA, { verified: true }));
    subAtA.set('erin', await addUser(a, erinAtA, { verified: true }));
    return run<{ client_id: string; client_secret: string }>(a, ['clients', 'add', '--name', 'Notes', '--redirect-uri', site!.callback]);
  })();
  const [clientAtB, appClient] = await Promise.all([atB, atA]);
  clientIdAtB = clientAtB.client_id;

  // A: B as the upstream "Bee SSO", and one that never answers (nothing listens on its port)
  const upstream = await run<{ id: string; redirect_uri: string; jit: boolean; linkByVerifiedEmail: boolean }>(a, [
    'upstreams', 'add', '--id', 'b', '--name', upstreamName, '--issuer', b.issuer, '--client-id', clientAtB.client_id, '--client-secret', clientAtB.client_secret,
  ]);
  expect(upstream).toMatchObject({ id: 'b', redirect_uri: `${a.issuer}/upstream/b/callback`, jit: true, linkByVerifiedEmail: false });
  await run(a, ['upstreams', 'add', '--id', 'down', '--name', downName, '--issuer', `http://127.0.0.1:${closedPort}`, '--client-id', 'a-at-down', '--client-secret', 'a-secret-nobody-checks']);

  await Promise.all([start(a), start(b)]);
  storeA = await openStore(a.databaseUrl);
  app = await discover(a.issuer, appClient.client_id, appClient.client_secret);
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await site?.close();
  await storeA?.close();
  killAll();
  for (const n of [a, b]) if (n) rmSync(n.dir, { recursive: true, force: true });
});

// --- the browser ------------------------------------------------------------------------------

interface Tab {
  page: Page;
  /** console errors (CSP violations show up there) and page errors */
  problems: string[];
  /** the last response that ended a main-frame navigation (after its redirects) */
  last(): Response | undefined;
  /** every main-frame navigation request, redirects included */
  requests: URL[];
}

/** A fresh browser profile: no cookies at A or B. */
async function newTab(): Promise<Tab> {
  const context = await browser!.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.setDefaultNavigationTimeout(15_000);
  const problems: string[] = [];
  problemsOf.set(page, problems);
  // (an error page's 4xx/5xx status is reported as a failed load: that is the page under test)
  page.on('console', (m) => m.type() === 'error' && !/the server responded with a status of [45]\d\d/.test(m.text()) && problems.push(`${m.text()} @ ${m.location().url}`));
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  let last: Response | undefined;
  const requests: URL[] = [];
  page.on('request', (r) => r.isNavigationRequest() && r.frame() === page.mainFrame() && requests.push(new URL(r.url())));
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame() && (r.status() < 300 || r.status() >= 400)) last = r;
  });
  return { page, problems, last: () => last, requests };
}

type Where = 'a-login' | 'a-consent' | 'a-link' | 'a-account' | 'b-login' | 'b-consent' | 'app';

/** Which page the browser is on. */
async function where(page: Page): Promise<Where> {
  const url = new URL(page.url());
  if (url.origin === site!.origin) return 'app';
  const h1 = (await page.locator('h1').first().textContent())?.trim() ?? '';
  const side = url.origin === a.issuer ? 'a' : url.origin === b.issuer ? 'b' : undefined;
  const kind = h1 === 'Sign in' ? 'login' : h1 === 'Allow access?' ? 'consent' : h1.startsWith('Link ') ? 'link' : h1 === 'Your account' ? 'account' : undefined;
  if (!side || !kind) throw new Error(`an unexpected page: ${page.url()} "${h1}"`);
  return `${side}-${kind}` as Where;
}

/** Runs `action` (a click, a submit, a goto) and waits for the page it leads to, after any redirects. */
async function go(page: Page, action: () => Promise<unknown>): Promise<Where> {
  try {
    await Promise.all([page.waitForEvent('load'), action()]);
    // A's callback is a page that sends the browser on by itself (a meta refresh): the next page
    await page.waitForURL((u) => !(u.origin === a.issuer && /^\/upstream\/[^/]+\/callback$/.test(u.pathname)), { waitUntil: 'load' });
  } catch (err) {
    throw new Error(`${(err as Error).message}\nat ${page.url()}; the browser said: ${JSON.stringify(problemsOf.get(page) ?? [])}`, { cause: err });
  }
  return where(page);
}

/** Allows whatever consent pages come (B's for A, A's for the app): a remembered consent is not asked again. */
async function allowConsents(page: Page, at: Where): Promise<Where> {
  for (let pages = 0; (at === 'a-consent' || at === 'b-consent') && pages < 3; pages += 1) {
    at = await go(page, () => page.getByRole('button', { name: 'Allow', exact: true }).click());
  }
  return at;
}

async function signInAtB(page: Page, user: User): Promise<Where> {
  await page.locator('#login').fill(user.username);
  await page.locator('#password').fill(user.password);
  return go(page, () => page.getByRole('button', { name: 'Sign in', exact: true }).click());
}

const upstreamButton = (page: Page, name = upstreamName) => page.getByRole('link', { name: `Continue with ${name}`, exact: true });

/** The app's sign-in request at A (code flow, PKCE, state, nonce). */
async function appRequest() {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(app, {
    redirect_uri: site!.callback,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url, verifier, state, nonce };
}

type AppRequest = Awaited<ReturnType<typeof appRequest>>;

/** Opens the app's request in the tab: A's login page, with the upstreams' buttons. */
async function openLoginAtA(tab: Tab, request: AppRequest) {
  expect(await go(tab.page, () => tab.page.goto(request.url.href))).toBe('a-login');
  expect(tab.last()!.status()).toBe(200);
  expect(await upstreamButton(tab.page).isVisible()).toBe(true);
}

/** The app redeems the code the browser brought back (openid-client): A's tokens, their ID token's claims and userinfo. */
async function redeem(page: Page, request: AppRequest) {
  const callback = new URL(page.url());
  expect(callback.href.startsWith(site!.callback)).toBe(true);
  const tokens = await oidc.authorizationCodeGrant(app, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  const userinfo = await oidc.fetchUserInfo(app, tokens.access_token, claims.sub);
  return { claims, userinfo };
}

/** A's login page → "Continue with Bee SSO" → B's login page (a fresh profile has no session at B). */
async function toB(tab: Tab, request: AppRequest) {
  await openLoginAtA(tab, request);
  expect(await go(tab.page, () => upstreamButton(tab.page).click())).toBe('b-login');
  const atB = new URL(tab.page.url());
  expect(atB.origin).toBe(b.issuer);
}

const linksAtA = (accountId: string) => storeA!.upstreamLinks.listByAccount(accountId);

// --- the tests --------------------------------------------------------------------------------

test('first sign-in through B: back at A, the app gets tokens for a new A account (its own sub, amr fed, B\'s verified email)', async () => {
  const before = await usersOf(a);
  const tab = await newTab();
  const request = await appRequest();
  await toB(tab, request);
  // B's own sign-in request, made by A: code flow, PKCE S256, state (carrying A's interaction), nonce, A's redirect URI
  const interactionAtA = tab.requests.find((u) => u.origin === a.issuer && /^\/interaction\/[\w-]+$/.test(u.pathname))!.pathname.split('/')[2];
  const toAuthAtB = tab.requests.find((u) => u.origin === b.issuer && u.pathname === '/auth')!;
  expect(Object.fromEntries(toAuthAtB.searchParams)).toEqual({
    client_id: clientIdAtB,
    response_type: 'code',
    redirect_uri: `${a.issuer}/upstream/b/callback`,
    scope,
    state: expect.stringMatching(new RegExp(`^${interactionAtA}\\.[\\w-]{16,}$`)),
    nonce: expect.stringMatching(/^[\w-]{16,}$/),
    code_challenge: expect.stringMatching(/^[\w-]{43}$/),
    code_challenge_method: 'S256',
  });

  const at = await allowConsents(tab.page, await signInAtB(tab.page, bobAtB));
  expect(at).toBe('app');
  // B answered at A's redirect URI (its code, the same state, its issuer), and A went on from there
  const answer = tab.requests.find((u) => u.origin === a.issuer && u.pathname === '/upstream/b/callback')!;
  expect(answer.searchParams.get('state')).toBe(toAuthAtB.searchParams.get('state'));
  expect(answer.searchParams.get('iss')).toBe(b.issuer);
  expect(answer.searchParams.get('code')).toBeTruthy();
  const { claims, userinfo } = await redeem(tab.page, request);

  const after = await usersOf(a);
  expect(after).toHaveLength(before.length + 1);
  const made = after.find((u) => !before.some((o) => o.sub === u.sub))!;
  expect(made).toMatchObject({ email: 'bob@example.com', email_verified: true });
  bobAtA = made.sub;
  expect(claims.sub).toBe(made.sub);
  expect(claims.sub).not.toBe(subAtB.get('bob'));
  expect(claims.iss).toBe(a.issuer);
  expect(claims.amr).toEqual(expect.arrayContaining(['fed']));
  expect(claims.amr).not.toContain('pwd');
  expect(userinfo).toMatchObject({ sub: made.sub, email: 'bob@example.com', email_verified: true, name: 'Bob B' });
  expect(await linksAtA(made.sub)).toEqual([expect.objectContaining({ upstreamId: 'b', subject: subAtB.get('bob'), accountId: made.sub })]);
  expect(tab.problems).toEqual([]);
}, 60_000);

test('second sign-in through B (a new browser): the same A account, no new one', async () => {
  expect(bobAtA).toBeDefined();
  const before = await usersOf(a);
  const tab = await newTab();
  const request = await appRequest();
  await toB(tab, request);
  expect(await allowConsents(tab.page, await signInAtB(tab.page, bobAtB))).toBe('app');
  const { claims } = await redeem(tab.page, request);
  expect(claims.sub).toBe(bobAtA);
  expect(claims.amr).toEqual(expect.arrayContaining(['fed']));
  expect((await usersOf(a)).map((u) => u.sub).sort()).toEqual(before.map((u) => u.sub).sort());
  const [link] = await linksAtA(bobAtA!);
  expect(link!.lastUsedAt).not.toBeNull();
  expect(tab.problems).toEqual([]);
}, 60_000);

test('an A account with the same verified email is linked only after its password: a wrong one links nothing', async () => {
  const carol = subAtA.get('carol')!;
  const before = await usersOf(a);
  const tab = await newTab();
  const { page } = tab;
  const request = await appRequest();
  await toB(tab, request);
  expect(await allowConsents(page, await signInAtB(page, carolAtB))).toBe('a-link');
  expect(await page.locator('h1').textContent()).toBe(`Link ${upstreamName} to your account`);
  expect(await page.locator('.lead').textContent()).toContain('carol@example.com');
  expect(page.url()).toMatch(new RegExp(`^${a.issuer}/interaction/[\\w-]+/upstream-link$`));

  // a wrong password: the page says so, nothing is linked
  await page.getByLabel('Password of this account').fill('not carols password at all');
  expect(await go(page, () => page.getByRole('button', { name: 'Link and continue' }).click())).toBe('a-link');
  expect(await page.getByRole('alert').textContent()).toBe('That password is not right.');
  expect(await linksAtA(carol)).toEqual([]);
  expect(await storeA!.upstreamLinks.find('b', subAtB.get('carol')!)).toBeUndefined();

  // the right one: linked, and the app gets the EXISTING account
  await page.getByLabel('Password of this account').fill(carolAtA.password);
  expect(await allowConsents(page, await go(page, () => page.getByRole('button', { name: 'Link and continue' }).click()))).toBe('app');
  const { claims, userinfo } = await redeem(page, request);
  expect(claims.sub).toBe(carol);
  expect(claims.amr).toEqual(expect.arrayContaining(['fed', 'pwd']));
  expect(userinfo).toMatchObject({ sub: carol, email: 'carol@example.com', name: 'Carol A' });
  expect(await linksAtA(carol)).toEqual([expect.objectContaining({ upstreamId: 'b', subject: subAtB.get('carol'), accountId: carol })]);
  expect(await usersOf(a)).toHaveLength(before.length);

  // from now on, B's carol goes straight through to her A account (no link page)
  const again = await newTab();
  const second = await appRequest();
  await toB(again, second);
  expect(await allowConsents(again.page, await signInAtB(again.page, carolAtB))).toBe('app');
  expect((await redeem(again.page, second)).claims.sub).toBe(carol);
  expect([...tab.problems, ...again.problems]).toEqual([]);
}, 90_000);

test('an email B has not verified never links to the A account that has it, nor makes another', async () => {
  const dave = subAtA.get('dave')!;
  const before = await usersOf(a);
  const tab = await newTab();
  const { page } = tab;
  const request = await appRequest();
  await toB(tab, request);
  expect(await allowConsents(page, await signInAtB(page, daveAtB))).toBe('a-login');
  expect(tab.last()!.status()).toBe(403);
  expect(new URL(page.url()).origin).toBe(a.issuer);
  expect(await page.getByRole('alert').textContent()).toBe(
    `An account here already uses the email address of your ${upstreamName} sign-in, and ${upstreamName} has not verified it. Sign in to that account another way.`,
  );
  expect(await linksAtA(dave)).toEqual([]);
  expect(await storeA!.upstreamLinks.find('b', subAtB.get('dave')!)).toBeUndefined();
  expect(await usersOf(a)).toHaveLength(before.length);
}, 60_000);

/** Opens A's /account in the tab: its sign-in (the account app) is done by `signIn`, from A's login page. */
async function openAccount(tab: Tab, signIn: (page: Page) => Promise<Where>) {
  const { page } = tab;
  expect(await go(page, () => page.goto(`${a.issuer}/account`))).toBe('a-login');
  expect(await allowConsents(page, await signIn(page))).toBe('a-account');
  expect(page.url()).toBe(`${a.issuer}/account`);
}

const linkedList = (page: Page) => page.locator('ul[aria-labelledby="upstreams-heading"] li');

test('unlink on /account: carol (who has a password) unlinks Bee SSO; bob (made by B, no password) cannot remove his last way in', async () => {
  const carol = subAtA.get('carol')!;
  expect(await linksAtA(carol)).toHaveLength(1);

  // carol signs in to /account with her password
  const tab = await newTab();
  const { page } = tab;
  await openAccount(tab, async (p) => {
    await p.locator('#login').fill(carolAtA.username);
    await p.locator('#password').fill(carolAtA.password);
    return go(p, () => p.getByRole('button', { name: 'Sign in', exact: true }).click());
  });
  expect(await linkedList(page).count()).toBe(1);
  expect(await linkedList(page).locator('strong').textContent()).toBe(upstreamName);
  await go(page, () => page.getByRole('button', { name: `Unlink ${upstreamName}` }).click());
  expect(page.url()).toBe(`${a.issuer}/account?notice=upstream-unlinked#security`);
  expect(await page.getByRole('status').textContent()).toBe('The provider is unlinked: it no longer signs you in here.');
  expect(await linkedList(page).count()).toBe(0);
  expect(await linksAtA(carol)).toEqual([]);

  // bob signs in to /account through B: his only way in, so it stays
  expect(bobAtA).toBeDefined();
  const bobTab = await newTab();
  const bobPage = bobTab.page;
  await openAccount(bobTab, async (p) => {
    expect(await go(p, () => upstreamButton(p).click())).toBe('b-login');
    return signInAtB(p, bobAtB);
  });
  expect(await linkedList(bobPage).count()).toBe(1);
  expect(await linkedList(bobPage).locator('strong').textContent()).toBe(upstreamName);
  await go(bobPage, () => bobPage.getByRole('button', { name: `Unlink ${upstreamName}` }).click());
  expect(bobPage.url()).toBe(`${a.issuer}/account?error=last-way#security`);
  expect(await bobPage.getByRole('alert').first().textContent()).toBe('This is your last way to sign in. Add another before you remove it.');
  expect(await linkedList(bobPage).count()).toBe(1);
  expect(await linksAtA(bobAtA!)).toEqual([expect.objectContaining({ upstreamId: 'b', subject: subAtB.get('bob') })]);

  // carol's next sign-in through B asks for her A password again
  const again = await newTab();
  const request = await appRequest();
  await toB(again, request);
  expect(await allowConsents(again.page, await signInAtB(again.page, carolAtB))).toBe('a-link');
  expect([...tab.problems, ...bobTab.problems, ...again.problems]).toEqual([]);
}, 90_000);

test('an upstream that does not answer: A\'s login page says so (503), and a password still signs in in that same interaction', async () => {
  const tab = await newTab();
  const { page } = tab;
  const request = await appRequest();
  await openLoginAtA(tab, request);
  const loginPage = page.url();
  expect(await go(page, () => upstreamButton(page, downName).click())).toBe('a-login');
  expect(tab.last()!.status()).toBe(503);
  expect(page.url()).toBe(`${loginPage}/upstream/down`);
  expect(await page.getByRole('alert').textContent()).toMatch(new RegExp(`^${downName} is not answering right now\\. Sign in another way, or try again later\\. \\(Reference: \\S+\\)$`));

  await page.locator('#login').fill(erinAtA.username);
  await page.locator('#password').fill(erinAtA.password);
  expect(await allowConsents(page, await go(page, () => page.getByRole('button', { name: 'Sign in', exact: true }).click()))).toBe('app');
  const { claims } = await redeem(page, request);
  expect(claims.sub).toBe(subAtA.get('erin'));
  expect(claims.amr).toEqual(['pwd']);
  expect(tab.problems).toEqual([]);
}, 60_000);
