/**
 * Sign-in through an upstream OpenID provider, under attack. The upstream is a crafted provider in
 * this process (test/helpers/fake-oidc-upstream.ts) whose answers each test tampers with: the
 * state, the answer replayed, ID tokens from the wrong issuer, for another client, with another
 * nonce, expired, signed with a key not in its JWKS or not signed at all, another sign-in's code,
 * emails it has not verified (never linked, never given to a new account), a linked subject that
 * now says another account's email, errors and silence. Each
 * refusal must leave nobody signed in, no account and no link made, and show a page (4xx, or 503
 * when the upstream is silent), never a 500; and each test also signs in through the same
 * upstream, honestly, so that no refusal passes just because upstream sign-in never works.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';

import { createAccountService } from '../../src/accounts/account-service.js';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openStore } from '../../src/storage/open-store.js';
import { createUpstreamRegistry } from '../../src/upstreams/upstream-registry.js';
import { checkedStore, type CheckedStore } from '../helpers/checked-store.js';
import { closedPort, startFakeOidcUpstream, type FakeUpstream } from '../helpers/fake-oidc-upstream.js';
import { tempDir } from '../helpers/server.js';
import * as browser from '../helpers/upstream-browser.js';
import { csrfFrom } from '../helpers/user-agent.js';
import { addClient, addUser, alertText, alice, CALLBACK, discover, expectErrorPage, LOGIN_FAILED, UserAgent, type Env, type TestServer } from './helpers.js';

const UPSTREAM = 'crafted';
/** the same provider, trusted to link on a verified email (linkByVerifiedEmail) */
const TRUSTED = 'trusted';
const messages = {
  failed: /^Signing in with Crafted IdP did not work\. Try again, or sign in another way\. \(Reference: [\w-]+\)$/,
  expired: 'That sign-in took too long or was already used. Start again.',
  cancelled: 'The sign-in with Crafted IdP was cancelled.',
  emailInUse: 'An account here already uses the email address of your Crafted IdP sign-in, and Crafted IdP has not verified it. Sign in to that account another way.',
};

// --- one idport (its log kept, for the audit events) and one crafted upstream for the file ---

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
let dir: string;
let store: CheckedStore;
let running: RunningServer;
let env: Env;
let fake: FakeUpstream;
const extraUpstreams: FakeUpstream[] = [];

beforeAll(async () => {
  fake = await startFakeOidcUpstream();
  dir = tempDir();
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, 'idport.db')}`, logLevel: 'info',
    // the password form is tried a dozen times on one account below: no lockout (429) meanwhile
    bruteForce: { freeFailures: 50 },
  });
  store = checkedStore(await openStore(config.databaseUrl, {}, config.mongo));
  running = await startServer(config, { logger: pino({ level: 'info' }, sink), store });
  await addUser(store);
  const client = await addClient(store, { redirect_uris: [CALLBACK], first_party: true });
  const server = { ...running, store, dir, stop: async () => undefined } as TestServer;
  env = { server, url: running.url, client, config: await discover(running.url, client.client_id, client.client_secret) };
  const registry = createUpstreamRegistry(store.upstreams, undefined);
  const common = { issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret };
  await registry.add({ id: UPSTREAM, name: 'Crafted IdP', ...common });
  await registry.add({ id: TRUSTED, name: 'Crafted IdP', ...common, linkByVerifiedEmail: true });
});

afterAll(async () => {
  for (const u of extraUpstreams) await u.close();
  await fake?.close();
  await running?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(store.violations).toEqual([]);
});

let mark = 0;
let testStart = 0;
let n = 0;
beforeEach(() => {
  mark = lines.length;
  testStart = lines.length;
  fake.reset();
  n += 1;
  fake.user = { sub: `upstream-subject-${n}`, email: `user${n}@upstream.example`, email_verified: true, name: `Upstream User ${n}` };
});

// no request of any test ended in an error of ours (a 500 is logged at level error)
afterEach(() => {
  expect(lines.slice(testStart).filter((l) => Number(l.level) >= 50)).toEqual([]);
});

/** The audit events of this test (since it began). */
const audits = (event: string) => lines.slice(mark).filter((l) => l.kind === 'audit' && l.audit === event);

// --- the browser's steps (test/helpers/upstream-browser.ts), with this file's idport ---

type Page = browser.UpstreamPage;
const openLogin = (ua?: UserAgent) => browser.openLogin(env, UPSTREAM, ua);
const toUpstream = (page: Page, id = UPSTREAM) => browser.toUpstream(page, id);
const { answerAt } = browser;
const back = (page: Page, callback: URL) => browser.back(env, page, callback);
const viaUpstream = (page: Page, id = UPSTREAM) => browser.viaUpstream(env, page, id);
/** (a failure says what the upstream and the audit log said) */
const atClient = (page: Page, res: Response) => browser.atClient(env, page, res, `${JSON.stringify(audits('upstream.login').at(-1))} ${fake.refusals.join()}`);
const expectNobodySignedIn = (ua: UserAgent) => browser.expectNobodySignedIn(env, ua);

/** The honest sign-in through the upstream, in this interaction: the account it signs in to. */
async function signsIn(page: Page, id = UPSTREAM): Promise<string> {
  const { claims } = await atClient(page, await viaUpstream(page, id));
  const link = await store.upstreamLinks.find(id, String(fake.user.sub));
  expect(link).toBeDefined();
  expect(claims.sub).toBe(link!.accountId);
  expect(claims.amr).toEqual(['fed']);
  return claims.sub!;
}

/** The login page again with `message`, the status given, nobody signed in. */
async function expectRefused(page: Page, res: Response, status: number, message: string | RegExp): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  const html = await res.text();
  expect(html).toContain('name="password"');
  if (typeof message === 'string') expect(alertText(html)).toBe(message);
  else expect(alertText(html)).toMatch(message);
  expect(html).not.toMatch(/\bat .+\.[jt]s:\d+|Error:|stack/);
  await expectNobodySignedIn(page.ua);
  return html;
}

/** Nothing was made for the upstream's user: no link, no account with their email. */
async function expectNothingMade(accountsBefore: number, id = UPSTREAM) {
  expect(await store.upstreamLinks.find(id, String(fake.user.sub))).toBeUndefined();
  expect((await store.accounts.list()).length).toBe(accountsBefore);
}

const accountCount = async () => (await store.accounts.list()).length;

// --- the tests ---

test('the honest round trip: PKCE S256, state and nonce sent; a just-in-time account linked to the subject, signed in with amr fed', async () => {
  const page = await openLogin();
  const accountId = await signsIn(page);
  const [request] = fake.authorizeRequests;
  expect(request!.get('code_challenge_method')).toBe('S256');
  expect(request!.get('state')).toMatch(new RegExp(`^${page.uid}\\.`));
  expect(request!.get('nonce')).toBeTruthy();
  expect(request!.get('redirect_uri')).toBe(`${env.url}/upstream/${UPSTREAM}/callback`);
  expect(fake.refusals).toEqual([]);
  const account = await store.accounts.findById(accountId);
  expect(account).toMatchObject({ email: fake.user.email, emailVerified: true, name: fake.user.name, passwordHash: '' });
  expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'success', actor: accountId, upstream: UPSTREAM })]);
});

test('a tampered state is refused before the code is redeemed, and uses up the sign-in; a state of another interaction finds nothing', async () => {
  const before = await accountCount();
  const page = await openLogin();
  const answer = await answerAt(await toUpstream(page));
  const state = answer.searchParams.get('state')!;
  const tampered = new URL(answer);
  tampered.searchParams.set('state', `${page.uid}.${'A'.repeat(43)}`);
  await expectRefused(page, (await back(page, tampered)).res, 400, messages.failed);
  expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'failure', upstream: UPSTREAM, reason: 'state' })]);
  // the code was never sent to the upstream's token endpoint
  expect(fake.redemptions.get(answer.searchParams.get('code')!)).toBeUndefined();
  // the genuine answer after it: the sign-in it belonged to is used up
  await expectRefused(page, (await back(page, answer)).res, 400, messages.expired);
  await expectNothingMade(before);

  // an answer whose state names another interaction (the attacker's): this browser has no cookie for it
  const attacker = await openLogin();
  const theirs = await answerAt(await toUpstream(attacker));
  const victim = await openLogin();
  const forwarded = await back(victim, theirs);
  expect(forwarded.returnUrl.pathname).toBe(`/interaction/${attacker.uid}/upstream/${UPSTREAM}/return`);
  expect(forwarded.res.status).toBeGreaterThanOrEqual(400);
  expect(forwarded.res.status).toBeLessThan(500);
  expect(theirs.searchParams.get('state')).not.toBe(state);
  await expectNobodySignedIn(victim.ua);
  await expectNothingMade(before);

  // the same interaction, honestly: signed in
  await signsIn(page);
});

test('code injection: another sign-in\'s code, under this sign-in\'s state, is refused by the upstream (PKCE) and signs nobody in', async () => {
  const before = await accountCount();
  const victim = await openLogin();
  const victimAnswer = await answerAt(await toUpstream(victim));
  const attacker = await openLogin();
  const attackerAnswer = await answerAt(await toUpstream(attacker));
  const injected = new URL(victimAnswer);
  injected.searchParams.set('code', attackerAnswer.searchParams.get('code')!);
  await expectRefused(victim, (await back(victim, injected)).res, 400, messages.failed);
  expect(fake.refusals).toEqual(['code_verifier does not match the code_challenge']);
  expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'failure', reason: 'invalid' })]);
  await expectNothingMade(before);
  await signsIn(victim);
});

test('the answer\'s iss naming another issuer (mix-up) is refused', async () => {
  const before = await accountCount();
  const page = await openLogin();
  const answer = await answerAt(await toUpstream(page));
  answer.searchParams.set('iss', 'https://evil.example');
  await expectRefused(page, (await back(page, answer)).res, 400, messages.failed);
  expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'failure', reason: 'invalid' })]);
  await expectNothingMade(before);
  await signsIn(page);
});

test('the callback and return URLs replayed after a sign-in (same browser, or another) sign nobody in, and no code is redeemed twice', async () => {
  const page = await openLogin();
  const answer = await answerAt(await toUpstream(page));
  const { res, returnUrl } = await back(page, answer);
  const { claims } = await atClient(page, res);
  const code = answer.searchParams.get('code')!;
  expect(fake.redemptions.get(code)).toBe(1);
  const accounts = await accountCount();
  mark = lines.length;

  // the same browser, again: the interaction is done
  const again = await page.ua.request(returnUrl);
  expect(again.status).toBeGreaterThanOrEqual(400);
  expect(again.status).toBeLessThan(500);
  const replayed = (await back(page, answer)).res;
  expect(replayed.status).toBeGreaterThanOrEqual(400);
  expect(replayed.status).toBeLessThan(500);
  expect(await replayed.text()).not.toMatch(/\bat .+\.[jt]s:\d+|stack/);

  // another browser (whoever read the URL): no cookie for the interaction, nothing
  const thief = new UserAgent();
  for (const res of [(await back({ ...page, ua: thief }, answer)).res, await thief.request(returnUrl)]) {
    expect(res.headers.get('location')).toBeNull();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  }
  await expectNobodySignedIn(thief);
  expect(fake.redemptions.get(code)).toBe(1);
  expect(audits('upstream.login').filter((a) => a.outcome === 'success')).toEqual([]);
  expect(await accountCount()).toBe(accounts);

  // the same upstream user, in a fresh browser, still gets the same account
  const next = await openLogin(new UserAgent());
  expect(await signsIn(next)).toBe(claims.sub);
});

test('a replayed answer in an interaction that is still waiting (the first attempt failed) finds its sign-in used up', async () => {
  const before = await accountCount();
  const page = await openLogin();
  fake.next = { idToken: { nonce: 'not-the-nonce' } };
  const answer = await answerAt(await toUpstream(page));
  await expectRefused(page, (await back(page, answer)).res, 400, messages.failed);
  fake.next = {};
  await expectRefused(page, (await back(page, answer)).res, 400, messages.expired);
  expect(fake.redemptions.get(answer.searchParams.get('code')!)).toBe(1);
  expect(audits('upstream.login').map((a) => a.reason)).toEqual(['invalid', 'no-pending-sign-in']);
  await expectNothingMade(before);
  await signsIn(page);
});

const now = () => Math.floor(Date.now() / 1000);
const idTokenAttacks: [string, () => FakeUpstream['next']][] = [
  ['from another issuer', () => ({ idToken: { iss: 'https://evil.example' } })],
  ['from another issuer on the same host', () => ({ idToken: { iss: `${fake.issuer}/other` } })],
  ['for another client (aud)', () => ({ idToken: { aud: 'another-client' } })],
  ['for another client and us (aud array, azp another)', () => ({ idToken: { aud: ['another-client', fake.clientId], azp: 'another-client' } })],
  ['with another nonce', () => ({ idToken: { nonce: 'not-the-nonce' } })],
  ['without a nonce', () => ({ idToken: { nonce: undefined } })],
  ['expired', () => ({ idToken: { iat: now() - 900, exp: now() - 600 } })],
  ['signed with another key under the JWKS key\'s kid', () => ({ signing: 'other-key-same-kid' })],
  ['signed with a key the JWKS does not have', () => ({ signing: 'other-key-unknown-kid' })],
  ['not signed (alg none)', () => ({ signing: 'none' })],
  ['HS256 keyed with the client secret', () => ({ signing: 'hs256-client-secret' })],
  ['HS256 keyed with the upstream\'s public key', () => ({ signing: 'hs256-public-key' })],
  ['whose userinfo speaks of another subject', () => ({ userinfo: { sub: 'another-subject' } })],
];

test.each(idTokenAttacks)('an ID token %s is refused; the honest one then signs in', async (_what, tamper) => {
  const before = await accountCount();
  const page = await openLogin();
  fake.next = tamper();
  await expectRefused(page, await viaUpstream(page), 400, messages.failed);
  expect(fake.issued.length).toBeGreaterThan(0);
  expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'failure', upstream: UPSTREAM, reason: 'invalid', detail: expect.stringMatching(/^(token|userinfo): /) })]);
  await expectNothingMade(before);
  fake.next = {};
  await signsIn(page);
});

test('an email the upstream has not verified (false, or the string "true") never links to the account that has it, nor makes a second one', async () => {
  const createAccount = createAccountService(store).create;
  const bob = await createAccount({ username: `bob${n}`, password: 'a long password for bob', email: `Bob${n}@Example.com`, emailVerified: true });
  const before = await accountCount();
  for (const [id, verified] of [[UPSTREAM, false], [UPSTREAM, 'true'], [TRUSTED, false], [TRUSTED, 'true'], [TRUSTED, undefined]] as const) {
    fake.user = { ...fake.user, email: `bob${n}@example.com`, email_verified: verified };
    const page = await openLogin();
    mark = lines.length;
    await expectRefused(page, await viaUpstream(page, id), 403, messages.emailInUse);
    expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'denied', upstream: id, reason: 'email-in-use' })]);
    await expectNothingMade(before, id);
    expect(await store.upstreamLinks.listByAccount(bob.id)).toEqual([]);
  }
  // the control: verified (true), through the upstream trusted to link on it, is bob
  fake.user = { ...fake.user, email_verified: true };
  expect(await signsIn(await openLogin(), TRUSTED)).toBe(bob.id);
});

test('an email the upstream has not verified is not given to a just-in-time account, nor its username: its owner is not pre-hijacked', async () => {
  // Whoever the upstream lets claim victim@… unverified must not get an account here with that
  // address: the owner would be told "this email has an account, reset your password", would
  // reset it, and use an account the upstream's user still signs in to.
  for (const verified of [false, 'true', 1, undefined]) {
    n += 1;
    const victim = `Victim${n}@Example.org`;
    fake.user = { sub: `squatter-${n}`, email: victim, email_verified: verified, name: 'Squatter' };
    const accountId = await signsIn(await openLogin());
    const account = (await store.accounts.findById(accountId))!;
    expect(account).toMatchObject({ email: null, emailVerified: false, name: 'Squatter' });
    expect(account.username.toLowerCase()).not.toContain('victim');
    expect(await store.accounts.findByLogin(victim)).toBeUndefined();
  }
  // the control: the same, verified, gives the email
  n += 1;
  fake.user = { sub: `owner-${n}`, email: `Owner${n}@Example.org`, email_verified: true };
  const owner = (await store.accounts.findById(await signsIn(await openLogin())))!;
  expect(owner).toMatchObject({ email: `Owner${n}@Example.org`, emailVerified: true, username: `Owner${n}@Example.org` });
});

test('a link left to an account that is gone does not stop the sign-in: the subject gets a new account', async () => {
  await store.upstreamLinks.link(UPSTREAM, String(fake.user.sub), 'account-that-is-gone');
  const accountId = await signsIn(await openLogin());
  expect(accountId).not.toBe('account-that-is-gone');
  expect(await store.upstreamLinks.find(UPSTREAM, String(fake.user.sub))).toMatchObject({ accountId });
}, 15_000);

test('a subject linked to account X stays X, even when the upstream now says Y\'s (verified) email; another subject with Y\'s email must prove Y', async () => {
  const x = await signsIn(await openLogin(), TRUSTED);
  const y = (await store.accounts.findByLogin(alice.username))!;
  fake.user = { ...fake.user, email: alice.email.toLowerCase(), email_verified: true, name: 'Not Alice' };
  expect(await signsIn(await openLogin(), TRUSTED)).toBe(x);
  expect(await store.upstreamLinks.listByAccount(y.id)).toEqual([]);
  expect((await store.accounts.findById(x))!.email).toBe(`user${n}@upstream.example`);

  // a new subject with alice's verified email, at the upstream not trusted to link on it: alice must prove it
  fake.user = { sub: `newcomer-${n}`, email: alice.email, email_verified: true };
  const page = await openLogin();
  const res = await viaUpstream(page);
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe(`/interaction/${page.uid}/upstream-link`);
  await expectNobodySignedIn(page.ua);
  expect(await store.upstreamLinks.find(UPSTREAM, `newcomer-${n}`)).toBeUndefined();
});

test('the callback without a state of a sign-in in progress answers a 400 page', async () => {
  for (const query of ['code=abc', 'code=abc&state=', 'code=abc&state=nodot', 'code=abc&state=short.AAAAAAAAAAAAAAAAAAAAAA', 'state=a.b&code=abc', 'code=abc&state=../../x.AAAAAAAAAAAAAAAAAAAAAA']) {
    for (const id of ['x', UPSTREAM]) await expectErrorPage(await fetch(`${env.url}/upstream/${id}/callback?${query}`, { redirect: 'manual', headers: { accept: 'text/html' } }), 400, 'invalid_request');
  }
  const posted = await fetch(`${env.url}/upstream/${UPSTREAM}/callback`, { method: 'POST', redirect: 'manual', headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, body: 'code=abc' });
  await expectErrorPage(posted, 400, 'invalid_request');
  // an upstream id that is not a slug, with a well-formed state
  const odd = await fetch(`${env.url}/upstream/NOT_A_SLUG/callback?code=abc&state=abcdefgh.${'A'.repeat(22)}`, { redirect: 'manual', headers: { accept: 'text/html' } });
  await expectErrorPage(odd, 400, 'invalid_request');
});

test('an upstream that does not answer (a closed port; or gone before the token request): 503 and the login page says so; the password still signs in', async () => {
  const registry = createUpstreamRegistry(store.upstreams, undefined);
  await registry.add({ id: 'closed', name: 'Closed IdP', issuer: `http://127.0.0.1:${await closedPort()}`, clientId: 'c', clientSecret: 's' });
  const flaky = await startFakeOidcUpstream();
  extraUpstreams.push(flaky);
  await registry.add({ id: 'flaky', name: 'Flaky IdP', issuer: flaky.issuer, clientId: flaky.clientId, clientSecret: flaky.clientSecret });
  const before = await accountCount();
  try {
    // at the button: discovery finds nobody
    const page = await openLogin();
    const res = await page.ua.request(`${page.base}/upstream/closed`);
    await expectRefused(page, res, 503, /^Closed IdP is not answering right now\. Sign in another way, or try again later\. \(Reference: [\w-]+\)$/);
    expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'failure', upstream: 'closed', reason: 'unreachable' })]);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await page.ua.request(page.base)).text())![1]!;
    const login = await page.ua.postForm(`${page.base}/login`, { csrf, login: alice.username, password: alice.password });
    expect((await atClient(page, login)).claims.sub).toBe((await store.accounts.findByLogin(alice.username))!.id);

    // at the return: the upstream answered /authorize, then went away
    mark = lines.length;
    const second = await openLogin();
    const answer = await answerAt(await toUpstream(second, 'flaky'));
    await flaky.close();
    await expectRefused(second, (await back(second, answer)).res, 503, /^Flaky IdP is not answering right now\./);
    expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'failure', upstream: 'flaky', reason: 'unreachable', detail: expect.stringMatching(/^token: /) })]);
    const csrf2 = /name="csrf" value="([^"]+)"/.exec(await (await second.ua.request(second.base)).text())![1]!;
    const login2 = await second.ua.postForm(`${second.base}/login`, { csrf: csrf2, login: alice.username, password: alice.password });
    expect((await atClient(second, login2)).claims.sub).toBe((await store.accounts.findByLogin(alice.username))!.id);
    expect(await accountCount()).toBe(before);
    // and the crafted upstream, which answers, still signs in
    await signsIn(await openLogin());
  } finally {
    await registry.remove('closed');
    await registry.remove('flaky');
  }
});

test('the upstream says access_denied: the login page says the sign-in was cancelled; another error says it did not work; nobody signed in', async () => {
  const before = await accountCount();
  const redeemed = fake.redemptions.size;
  const page = await openLogin();
  fake.next = { authorizeError: 'access_denied' };
  await expectRefused(page, await viaUpstream(page), 400, messages.cancelled);
  expect(audits('upstream.login')).toEqual([expect.objectContaining({ outcome: 'denied', reason: 'upstream-error', error: 'access_denied' })]);
  fake.next = { authorizeError: 'server_error' };
  await expectRefused(page, await viaUpstream(page), 400, messages.failed);
  expect(fake.redemptions.size).toBe(redeemed);
  await expectNothingMade(before);
  fake.next = {};
  await signsIn(page);
});

test('the upstream\'s tokens never reach the client, nor idport\'s store', async () => {
  const page = await openLogin();
  const issuedBefore = fake.issued.length;
  const { claims, tokens } = await atClient(page, await viaUpstream(page));
  const upstreamTokens = fake.issued.slice(issuedBefore);
  expect(upstreamTokens).toHaveLength(1);
  const { access_token, refresh_token, id_token } = upstreamTokens[0]!;
  const answer = JSON.stringify(tokens);
  for (const secret of [access_token, refresh_token, id_token, id_token.split('.')[2]!]) expect(answer).not.toContain(secret);
  expect(tokens.access_token).not.toBe(access_token);
  expect(claims.iss).toBe(env.url);
  expect(claims.sub).not.toBe(fake.user.sub);
  expect(claims.aud).toBe(env.client.client_id);
  // idport's userinfo neither
  const userinfo = await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${String(tokens.access_token)}` } });
  expect(userinfo.status).toBe(200);
  const body = await userinfo.text();
  for (const secret of [access_token, refresh_token, id_token]) expect(body).not.toContain(secret);
  // nor the database (and its write-ahead log)
  const stored = readdirSync(dir).filter((f) => f.startsWith('idport.db')).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n');
  expect(stored).toContain(String(fake.user.sub)); // (the link is there: the search finds what is stored)
  for (const secret of [access_token, refresh_token, id_token, id_token.split('.')[1]!]) expect(stored).not.toContain(secret);
});

test('a just-in-time account (no password) cannot be signed into on the password form, whatever the password', async () => {
  const accountId = await signsIn(await openLogin());
  const account = (await store.accounts.findById(accountId))!;
  expect(account.passwordHash).toBe('');
  for (const login of [account.username, String(account.email)]) {
    for (const password of ['', ' ', 'x', 'undefined', 'null', 'a long password nobody set']) {
      const page = await openLogin();
      const csrf = /name="csrf" value="([^"]+)"/.exec(await (await page.ua.request(page.base)).text())![1]!;
      const res = await page.ua.postForm(`${page.base}/login`, { csrf, login, password });
      expect(res.headers.get('location')).toBeNull();
      expect(res.status).toBe(200);
      expect(alertText(await res.text())).toBe(LOGIN_FAILED);
      await expectNobodySignedIn(page.ua);
    }
  }
  // and no /upstream-link proof either: that page needs a link waiting in this interaction
  const page = await openLogin();
  const csrf = /name="csrf" value="([^"]+)"/.exec(await (await page.ua.request(page.base)).text())![1]!;
  const res = await page.ua.postForm(`${page.base}/upstream-link`, { csrf, password: '' });
  expect(res.status).toBe(400);
  expect(alertText(await res.text())).toBe(messages.expired);
  await expectNobodySignedIn(page.ua);
});

test('an ID token\'s email never borrows userinfo\'s email_verified (which may speak of another address)', async () => {
  const createAccount = createAccountService(store).create;
  const victim = await createAccount({ username: `vic${n}`, password: 'a long password for vic', email: `vic${n}@example.com`, emailVerified: true });
  const before = await accountCount();
  // the ID token names the victim's address and says nothing of its verification; userinfo
  // verifies another address of the user's
  fake.user = { sub: `mixer-${n}`, email: `mine${n}@upstream.example`, email_verified: true };
  fake.next = { idToken: { email: `vic${n}@example.com`, email_verified: undefined }, userinfo: { email: `mine${n}@upstream.example`, email_verified: true } };
  const page = await openLogin();
  mark = lines.length;
  await expectRefused(page, await viaUpstream(page, TRUSTED), 403, messages.emailInUse);
  await expectNothingMade(before, TRUSTED);
  expect(await store.upstreamLinks.listByAccount(victim.id)).toEqual([]);
  // the control: the ID token verifying the address itself links (trusted upstream, both verified)
  fake.next = { idToken: { email: `vic${n}@example.com`, email_verified: true } };
  expect(await signsIn(await openLogin(), TRUSTED)).toBe(victim.id);
});

test('an account with no password (made through the upstream) sets one and deletes itself on /account after a recent sign-in, without a current password', async () => {
  const page = await openLogin();
  const accountId = await signsIn(page);
  const { ua } = page;
  // the upstream session reaches /account (first party: no consent)
  const home = await ua.follow(`${env.url}/account`, env.url);
  expect(home.url.pathname).toBe('/account');
  const form = await ua.request(`${env.url}/account/password`);
  const html = await form.text();
  expect(form.status).toBe(200);
  expect(html).not.toContain('name="current_password"');
  const set = await ua.postForm(new URL('/account/password', env.url), { csrf: csrfFrom(html), password: 'a brand new passphrase here' });
  expect(set.status).toBe(200);
  const account = (await store.accounts.findById(accountId))!;
  expect(account.passwordHash).not.toBe('');
  // the new password signs in (by the account's username)
  const again = await browser.openLogin(env, UPSTREAM);
  const login = await again.ua.postForm(new URL(`${again.base}/login`), { csrf: csrfFrom(await (await again.ua.request(again.base)).text()), login: account.username, password: 'a brand new passphrase here' });
  expect(login.status).toBe(303);
  expect(login.headers.get('location')).toMatch(/\/auth\//);

  // a second passwordless account deletes itself with its recent sign-in alone
  n += 1;
  fake.user = { sub: `leaver-${n}`, email: `leaver${n}@upstream.example`, email_verified: true };
  const leaverPage = await openLogin();
  const leaver = await signsIn(leaverPage);
  expect((await leaverPage.ua.follow(`${env.url}/account`, env.url)).url.pathname).toBe('/account');
  const confirm = await (await leaverPage.ua.request(`${env.url}/account/delete`)).text();
  expect(confirm).not.toContain('name="current_password"');
  const deleted = await leaverPage.ua.postForm(new URL('/account/delete', env.url), { csrf: csrfFrom(confirm) });
  expect(deleted.status).toBe(200);
  expect(await store.accounts.findById(leaver)).toBeUndefined();
  expect(await store.upstreamLinks.find(UPSTREAM, `leaver-${n}`)).toBeUndefined();
});
