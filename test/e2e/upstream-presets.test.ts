/**
 * The naver, apple and microsoft presets, each signing in to an in-process idport through a
 * small local STAND-IN of the provider (test/helpers/provider-stand-ins.ts): not the provider, but
 * a node:http server answering with the request and response shapes the provider documents —
 * Naver's OAuth 2 endpoints and profile API (a refusal at the token endpoint is HTTP 200 with
 * `error`; `expires_in` is a string), Apple's discovery, its form_post answer and a token endpoint
 * that verifies the ES256 client-secret JWT with the team key's public key, Microsoft's
 * multi-tenant discovery whose issuer is the template `{authority}/{tenantid}/v2.0`. Their base
 * URLs replace the real ones through `--issuer` (and Naver's `--api-url`), as an operator could.
 *
 * The browser is plain HTTP with a cookie jar (test/helpers/user-agent.ts): idport's login page,
 * the preset's button, the stand-in's answer (a redirect, or Apple's auto-submitting form posted
 * to idport's callback as a browser would), back at the app, whose code is redeemed for idport's
 * tokens. Each refusal must show the login page with a message (never a 500) and make nothing.
 * idport runs with IDPORT_KEK: the presets' secrets (Apple's private key too) are sealed.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openStore } from '../../src/storage/open-store.js';
import type { UpstreamPreset } from '../../src/storage/types.js';
import { appleClientSecretSeconds } from '../../src/upstreams/apple-client-secret.js';
import { createUpstreamRegistry, type UpstreamInput, type UpstreamRegistry } from '../../src/upstreams/upstream-registry.js';
import { checkedStore, type CheckedStore } from '../helpers/checked-store.js';
import { closedPort } from '../helpers/fake-oidc-upstream.js';
import {
  appleStyleKey,
  consumersTenant,
  startAppleStandIn,
  startMicrosoftStandIn,
  startNaverStandIn,
  type AppleStandIn,
  type MicrosoftStandIn,
  type NaverStandIn,
} from '../helpers/provider-stand-ins.js';
import { tempDir } from '../helpers/server.js';
import { addClient, addUser, alertText, authUrl, CALLBACK, discover, redeem, UserAgent, type Env, type TestServer } from '../security/helpers.js';

const kek = new Uint8Array(32).fill(11);
/** idport's log lines (the audit events say why a sign-in was refused) */
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
let mark = 0;
beforeEach(() => {
  mark = lines.length;
});
/** This test's `upstream.login` audit events. */
const logins = () => lines.slice(mark).filter((l) => l.kind === 'audit' && l.audit === 'upstream.login');
let dir: string;
let store: CheckedStore;
let running: RunningServer;
let env: Env;
let registry: UpstreamRegistry;
let naver: NaverStandIn;
let apple: AppleStandIn;
let microsoft: MicrosoftStandIn;

const failedMessage = (name: string) => new RegExp(`^Signing in with ${name} did not work\\. Try again, or sign in another way\\. \\(Reference: [\\w-]+\\)$`);
const emailInUse = (name: string) => `An account here already uses the email address of your ${name} sign-in, and ${name} has not verified it. Sign in to that account another way.`;

beforeAll(async () => {
  [naver, apple, microsoft] = await Promise.all([startNaverStandIn(), startAppleStandIn(), startMicrosoftStandIn()]);
  dir = tempDir();
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, 'idport.db')}`, logLevel: 'info' });
  store = checkedStore(await openStore(config.databaseUrl, {}, config.mongo));
  running = await startServer(config, { logger: pino({ level: 'info' }, sink), store, kek });
  await addUser(store);
  const client = await addClient(store, { redirect_uris: [CALLBACK], first_party: true });
  const server = { ...running, store, dir, stop: async () => undefined } as TestServer;
  env = { server, url: running.url, client, config: await discover(running.url, client.client_id, client.client_secret) };
  registry = createUpstreamRegistry(store.upstreams, kek);
});

afterAll(async () => {
  await Promise.all([naver?.close(), apple?.close(), microsoft?.close()]);
  await running?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(store.violations).toEqual([]);
});

const add = (input: UpstreamInput & { preset: UpstreamPreset }) => registry.add(input);

// --- the browser's steps ---

interface Page {
  ua: UserAgent;
  /** /interaction/<uid> on idport */
  base: string;
  uid: string;
  verifier: string;
}

/** The app sends a fresh browser to idport; it stops at the login page, which has the upstream's button. */
async function openLogin(upstreamId: string): Promise<Page> {
  const ua = new UserAgent();
  const verifier = oidc.randomPKCECodeVerifier();
  const step = await ua.follow(authUrl(env, { code_challenge: await oidc.calculatePKCECodeChallenge(verifier) }), env.url);
  expect(step.page!.status).toBe(200);
  expect(await step.page!.text()).toContain(`/upstream/${upstreamId}"`);
  const uid = /\/interaction\/([^/]+)$/.exec(step.url.pathname)![1]!;
  return { ua, uid, base: `${env.url}/interaction/${uid}`, verifier };
}

/** The upstream's button: where idport sends the browser (the upstream's authorization URL). */
async function toUpstream(page: Page, upstreamId: string): Promise<URL> {
  const res = await page.ua.request(`${page.base}/upstream/${upstreamId}`);
  if (res.status !== 303) throw new Error(`the button answered ${res.status}: ${alertText(await res.text())}`);
  return new URL(res.headers.get('location')!);
}

/**
 * The browser at idport's callback (GET with the answer, or Apple's form post), which sends it on
 * to the interaction's return route (a redirect, or a page that refreshes to it): idport's answer there.
 */
async function backAtIdport(page: Page, callback: Response): Promise<Response> {
  const refresh = callback.status === 200 ? /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(await callback.text()) : null;
  const next = callback.status === 303 ? callback.headers.get('location') : refresh && unescapeHtml(refresh[1]!);
  if (!next) throw new Error(`the callback answered ${callback.status} without sending the browser on`);
  const returnUrl = new URL(next, env.url);
  expect(returnUrl.pathname).toMatch(new RegExp(`^/interaction/${page.uid}/upstream/[a-z0-9-]+/return$`));
  return page.ua.request(returnUrl);
}

/** A provider that answers at once with a redirect to idport's callback (Naver, Microsoft). */
async function viaRedirect(page: Page, upstreamId: string): Promise<Response> {
  const atUpstream = await fetch(await toUpstream(page, upstreamId), { redirect: 'manual' });
  expect(atUpstream.status).toBe(302);
  const callback = new URL(atUpstream.headers.get('location')!);
  expect(callback.href.startsWith(`${env.url}/upstream/${upstreamId}/callback?`)).toBe(true);
  return backAtIdport(page, await page.ua.request(callback));
}

const unescapeHtml = (v: string) => v.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Apple answers with an auto-submitting form: the browser posts it to idport's callback. Its fields, and idport's answer. */
async function viaFormPost(page: Page, upstreamId: string): Promise<{ res: Response; fields: Record<string, string> }> {
  const atApple = await fetch(await toUpstream(page, upstreamId), { redirect: 'manual' });
  const html = await atApple.text();
  expect(atApple.status).toBe(200);
  const form = /<form method="POST" action="([^"]+)">/.exec(html);
  expect(form).not.toBeNull();
  const action = unescapeHtml(form![1]!);
  expect(action).toBe(`${env.url}/upstream/${upstreamId}/callback`);
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, unescapeHtml(m[2]!)]));
  return { res: await backAtIdport(page, await page.ua.postForm(action, fields)), fields };
}

/** The sign-in worked: the browser goes on to the app, which redeems the code at idport. The ID token's claims. */
async function atApp(page: Page, res: Response): Promise<Record<string, unknown>> {
  if (res.status !== 303) throw new Error(`expected a sign-in, got ${res.status}: ${alertText(await res.text())}`);
  const step = await page.ua.follow(page.base, env.url, res);
  if (!step.left) throw new Error(`expected the app's callback, got a page ${step.page?.status}: ${alertText(await step.page!.text())}`);
  expect(step.left.origin + step.left.pathname).toBe(CALLBACK);
  const tokens = await redeem(env, step.left.searchParams.get('code')!, page.verifier);
  expect(tokens.status).toBe(200);
  return decodeJwt(String(tokens.body.id_token));
}

/** The login page again, with `message`; nobody signed in. */
async function expectRefused(page: Page, res: Response, status: number, message: string | RegExp): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  const html = await res.text();
  expect(html).toContain('name="password"');
  if (typeof message === 'string') expect(alertText(html)).toBe(message);
  else expect(alertText(html)).toMatch(message);
  const step = await page.ua.follow(authUrl(env, { prompt: 'none' }), env.url);
  expect(step.left?.searchParams.get('error')).toBe('login_required');
}

/** The account linked to the upstream's subject, which the app's ID token names. */
async function linkedAccount(upstreamId: string, subject: string, claims: Record<string, unknown>) {
  const link = await store.upstreamLinks.find(upstreamId, subject);
  expect(link).toBeDefined();
  expect(claims.sub).toBe(link!.accountId);
  expect(claims.amr).toEqual(['fed']);
  return (await store.accounts.findById(link!.accountId))!;
}

const accountCount = async () => (await store.accounts.list()).length;

// --- Naver ---

describe('naver: OAuth 2 and the profile API, the email never verified', () => {
  const id = 'naver';
  beforeAll(async () => {
    await add({ id, name: 'Naver', preset: 'naver', issuer: naver.issuer, clientId: naver.clientId, clientSecret: naver.clientSecret, settings: { apiUrl: naver.apiUrl } });
  });
  beforeEach(() => naver.reset());

  test('signs in: the subject is the profile id; a new account, without the (unverified) email; the next sign-in finds it', async () => {
    naver.user = { id: 'naver-32742776', email: 'minji@naver.com', name: '김민지', nickname: 'minji', profile_image: 'https://phinf.pstatic.net/contact/minji.png' };
    const page = await openLogin(id);
    const claims = await atApp(page, await viaRedirect(page, id));
    const account = await linkedAccount(id, 'naver-32742776', claims);
    // an address the upstream has not verified is not the account's (federated-accounts.ts)
    expect(account).toMatchObject({ email: null, emailVerified: false, name: '김민지', passwordHash: '', claims: { picture: 'https://phinf.pstatic.net/contact/minji.png' } });

    // what went to Naver: state (at authorize and, as Naver wants, at the token endpoint), the secret in the body, PKCE (ignored there)
    const [authorize] = naver.authorizeRequests;
    expect(authorize!.get('state')).toMatch(new RegExp(`^${page.uid}\\.`));
    expect(authorize!.get('redirect_uri')).toBe(`${env.url}/upstream/${id}/callback`);
    expect(authorize!.get('code_challenge_method')).toBe('S256');
    expect(authorize!.has('scope')).toBe(false);
    const [tokenRequest] = naver.tokenRequests;
    expect(tokenRequest!.get('state')).toBe(authorize!.get('state'));
    expect(tokenRequest!.get('client_secret')).toBe(naver.clientSecret);

    const again = await openLogin(id);
    expect((await atApp(again, await viaRedirect(again, id))).sub).toBe(claims.sub);
    expect(JSON.stringify(await store.upstreams.find(id))).not.toContain(naver.clientSecret);
  });

  test('never links by email: an account with the Naver address is refused, even for an upstream trusted with emails', async () => {
    await add({ id: 'naver-trusted', name: 'Naver', preset: 'naver', issuer: naver.issuer, clientId: naver.clientId, clientSecret: naver.clientSecret, settings: { apiUrl: naver.apiUrl }, linkByVerifiedEmail: true });
    naver.user = { id: 'naver-alice', email: 'alice@example.com', name: 'Not Alice' };
    const before = await accountCount();
    for (const upstreamId of [id, 'naver-trusted']) {
      const page = await openLogin(upstreamId);
      await expectRefused(page, await viaRedirect(page, upstreamId), 403, emailInUse('Naver'));
      expect(await store.upstreamLinks.find(upstreamId, 'naver-alice')).toBeUndefined();
    }
    expect(await accountCount()).toBe(before);
  });

  test('a refused token request (HTTP 200 with error), a profile API error, a cancel: the login page, nothing made', async () => {
    naver.user = { id: 'naver-refused', email: 'refused@naver.com' };
    const before = await accountCount();
    naver.next = { tokenError: 'invalid_request' };
    let page = await openLogin(id);
    await expectRefused(page, await viaRedirect(page, id), 400, failedMessage('Naver'));
    naver.next = { resultcode: '024' };
    page = await openLogin(id);
    await expectRefused(page, await viaRedirect(page, id), 400, failedMessage('Naver'));
    naver.next = { authorizeError: 'access_denied' };
    page = await openLogin(id);
    await expectRefused(page, await viaRedirect(page, id), 400, 'The sign-in with Naver was cancelled.');
    expect(logins().map((l) => [l.outcome, l.reason, l.detail])).toEqual([
      ['failure', 'invalid', 'token: Naver said invalid_request: refused by the test'],
      ['failure', 'invalid', 'Naver profile API: resultcode 024 refused by the test'],
      ['denied', 'upstream-error', undefined],
    ]);
    expect(await store.upstreamLinks.find(id, 'naver-refused')).toBeUndefined();
    expect(await accountCount()).toBe(before);
    // and then it works
    naver.next = {};
    page = await openLogin(id);
    await linkedAccount(id, 'naver-refused', await atApp(page, await viaRedirect(page, id)));
  });
});

// --- Apple ---

describe('apple: form_post, a client secret signed per request, email_verified as a string', () => {
  const id = 'apple';
  beforeAll(async () => {
    await add({
      id, name: 'Apple', preset: 'apple', issuer: apple.issuer, clientId: apple.clientId, privateKey: apple.privateKeyPem,
      settings: { teamId: apple.teamId, keyId: apple.keyId },
    });
  });
  beforeEach(() => apple.reset());

  test('signs in: form_post answer, the ES256 client secret verified at the token endpoint, "true" counts as verified', async () => {
    apple.user = { sub: '001234.aa11bb22cc33dd44ee55.0101', email: 'x7q2@privaterelay.appleid.com', email_verified: 'true', is_private_email: 'true', name: { firstName: 'Forged<', lastName: 'Name"' } };
    const page = await openLogin(id);
    const { res, fields } = await viaFormPost(page, id);
    // the first authorization posts the (unsigned) name; idport does not take it
    expect(JSON.parse(fields.user!)).toMatchObject({ name: { firstName: 'Forged<' } });
    const claims = await atApp(page, res);
    const account = await linkedAccount(id, apple.user.sub, claims);
    expect(account).toMatchObject({ email: 'x7q2@privaterelay.appleid.com', emailVerified: true, passwordHash: '' });
    expect(account.name).toBeNull();

    const [authorize] = apple.authorizeRequests;
    expect(Object.fromEntries(['response_type', 'response_mode', 'scope', 'code_challenge_method'].map((k) => [k, authorize!.get(k)]))).toEqual({
      response_type: 'code', response_mode: 'form_post', scope: 'openid email name', code_challenge_method: 'S256',
    });
    expect(authorize!.get('nonce')).toBeTruthy();
    expect(apple.refusals).toEqual([]);
    // the client secret the stand-in verified with the team key's public key
    expect(apple.clientSecrets).toHaveLength(1);
    const [secret] = apple.clientSecrets;
    expect(secret!.header).toEqual({ alg: 'ES256', kid: apple.keyId });
    expect(secret!.claims).toMatchObject({ iss: apple.teamId, sub: apple.clientId, aud: apple.issuer });
    expect(secret!.claims.exp! - secret!.claims.iat!).toBe(appleClientSecretSeconds);
    expect(Math.abs(secret!.claims.iat! - Date.now() / 1000)).toBeLessThan(30);

    // the private key is sealed under the KEK
    const stored = JSON.stringify(await store.upstreams.find(id));
    expect(stored).not.toContain('PRIVATE KEY');
    expect(stored).not.toContain(apple.privateKeyPem.split('\n')[1]);

    // the second sign-in: no name posted, the same account, a new client secret
    const again = await openLogin(id);
    const second = await viaFormPost(again, id);
    expect(second.fields.user).toBeUndefined();
    expect((await atApp(again, second.res)).sub).toBe(claims.sub);
    expect(apple.clientSecrets).toHaveLength(2);
  });

  test('"true" makes the email verified (the account must then be proven), "false" does not (refused)', async () => {
    apple.user = { sub: '001234.alice0000000000000.0101', email: 'alice@example.com', email_verified: 'true' };
    let page = await openLogin(id);
    let { res } = await viaFormPost(page, id);
    // verified: alice proves her account before it is linked
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/interaction/${page.uid}/upstream-link`);

    apple.user = { sub: '001234.notalice000000000.0101', email: 'alice@example.com', email_verified: 'false' };
    page = await openLogin(id);
    ({ res } = await viaFormPost(page, id));
    await expectRefused(page, res, 403, emailInUse('Apple'));
    expect(await store.upstreamLinks.find(id, apple.user.sub)).toBeUndefined();

    // a boolean is taken too
    apple.user = { sub: '001234.bool000000000000.0101', email: 'bool@example.com', email_verified: true };
    page = await openLogin(id);
    expect(await linkedAccount(id, apple.user.sub, await atApp(page, (await viaFormPost(page, id)).res))).toMatchObject({ emailVerified: true });
  });

  test('its ID token is checked as any: another audience, another nonce, another issuer are refused', async () => {
    apple.user = { sub: '001234.tampered00000000.0101', email: 'tampered@example.com', email_verified: 'true' };
    const before = await accountCount();
    for (const idToken of [{ aud: 'com.example.other' }, { nonce: 'not-the-nonce' }, { iss: 'https://appleid.apple.com' }]) {
      apple.next = { idToken };
      const page = await openLogin(id);
      await expectRefused(page, (await viaFormPost(page, id)).res, 400, failedMessage('Apple'));
    }
    expect(logins().map((l) => [l.outcome, l.reason])).toEqual([['failure', 'invalid'], ['failure', 'invalid'], ['failure', 'invalid']]);
    expect(apple.refusals).toEqual([]);
    expect(await store.upstreamLinks.find(id, apple.user.sub)).toBeUndefined();
    expect(await accountCount()).toBe(before);
  });

  test('a client secret signed with another key is refused by Apple: the login page, nothing made', async () => {
    await add({
      id: 'apple-wrong-key', name: 'Apple', preset: 'apple', issuer: apple.issuer, clientId: apple.clientId, privateKey: appleStyleKey().privateKeyPem,
      settings: { teamId: apple.teamId, keyId: apple.keyId },
    });
    apple.user = { sub: '001234.wrongkey00000000.0101', email: 'wk@example.com', email_verified: 'true' };
    const before = await accountCount();
    const page = await openLogin('apple-wrong-key');
    await expectRefused(page, (await viaFormPost(page, 'apple-wrong-key')).res, 400, failedMessage('Apple'));
    expect(apple.refusals).toEqual([expect.stringMatching(/^client secret: signature verification failed/)]);
    expect(logins()).toEqual([expect.objectContaining({ outcome: 'failure', reason: 'invalid', detail: expect.stringMatching(/^token: .*invalid_client/) })]);
    expect(await accountCount()).toBe(before);
  });
});

// --- Microsoft ---

describe('microsoft: one issuer per tenant', () => {
  const id = 'microsoft';
  const single = 'contoso-only';
  const contoso = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const fabrikam = 'c9a1b5a3-7d15-4d2b-9f4f-0a9c1e7b2d11';
  const user = (n: string, tid: string) => ({ sub: `pairwise-${n}`, oid: `0000000${n.length}-0000-0000-0000-00000000000${n.length}`, tid, name: `User ${n}`, preferred_username: `${n}@tenant.example`, email: `${n}@tenant.example` });
  beforeAll(async () => {
    const common = { issuer: microsoft.authority, clientId: microsoft.clientId, clientSecret: microsoft.clientSecret };
    await add({ id, name: 'Microsoft', preset: 'microsoft', ...common });
    await add({ id: single, name: 'Contoso', preset: 'microsoft', ...common, settings: { tenant: contoso } });
    await add({ id: 'ms-personal', name: 'Microsoft personal', preset: 'microsoft', ...common, settings: { tenant: 'consumers' } });
  });
  beforeEach(() => microsoft.reset());

  test('multi-tenant (organizations): users of two tenants both sign in; the subject is sub; the email is not verified', async () => {
    const accounts = [];
    for (const [n, tid] of [['ann', contoso], ['ben', fabrikam]] as const) {
      microsoft.user = { ...user(n, tid), email_verified: true } as never;
      const page = await openLogin(id);
      const claims = await atApp(page, await viaRedirect(page, id));
      accounts.push(await linkedAccount(id, `pairwise-${n}`, claims));
    }
    // the ID token's email_verified: true is not taken: an unverified address is not the account's
    expect(accounts.map((a) => [a.email, a.emailVerified, a.name])).toEqual([[null, false, 'User ann'], [null, false, 'User ben']]);
    expect(new Set(accounts.map((a) => a.id)).size).toBe(2);
    const [authorize] = microsoft.authorizeRequests;
    expect(microsoft.authorizeRequests.map((q) => [q.get('code_challenge_method'), q.get('scope')])).toEqual([['S256', 'openid email profile'], ['S256', 'openid email profile']]);
    expect(authorize!.get('nonce')).toBeTruthy();
    expect(microsoft.tokenRequests[0]!.get('client_secret')).toBe(microsoft.clientSecret);
    expect(microsoft.refusals).toEqual([]);
  });

  const now = () => Math.floor(Date.now() / 1000);
  const notTheIssuer = /^ID token: iss .* is not the issuer of tenant /;
  const attacks: [string, () => MicrosoftStandIn['next'], RegExp][] = [
    ['whose iss is another tenant than its tid', () => ({ idToken: { iss: microsoft.issuerOf(fabrikam) } }), notTheIssuer],
    ['whose iss is on another host', () => ({ idToken: { iss: `https://login.evil.example/${contoso}/v2.0` } }), notTheIssuer],
    ['without a tid', () => ({ idToken: { tid: undefined } }), notTheIssuer],
    ['whose tid is not a tenant id (the template itself)', () => ({ idToken: { tid: '{tenantid}', iss: `${microsoft.authority}/{tenantid}/v2.0` } }), notTheIssuer],
    ['for another app (aud)', () => ({ idToken: { aud: 'another-app' } }), /^ID token: .*"aud" claim/],
    ['with another nonce', () => ({ idToken: { nonce: 'not-the-nonce' } }), /^ID token: nonce does not match$/],
    ['expired', () => ({ idToken: { iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 } }), /^ID token: .*"exp" claim/],
    ['signed with a key not in the JWKS (same kid)', () => ({ signedBy: 'other-key' }), /^ID token: .*signature verification failed/],
  ];

  test.each(attacks)('an ID token %s is refused: the login page, nothing made', async (_what, tamper, why) => {
    microsoft.user = user('eve', contoso);
    const before = await accountCount();
    microsoft.next = tamper();
    const page = await openLogin(id);
    await expectRefused(page, await viaRedirect(page, id), 400, failedMessage('Microsoft'));
    // the code was redeemed (Microsoft said yes): idport refused the ID token
    expect(microsoft.tokenRequests).toHaveLength(1);
    expect(microsoft.refusals).toEqual([]);
    expect(logins()).toEqual([expect.objectContaining({ outcome: 'failure', reason: 'invalid', detail: expect.stringMatching(why) })]);
    expect(await store.upstreamLinks.find(id, 'pairwise-eve')).toBeUndefined();
    expect(await accountCount()).toBe(before);
  });

  test('single tenant: its own issuer only; a token of another tenant is refused', async () => {
    microsoft.user = user('cat', contoso);
    let page = await openLogin(single);
    await linkedAccount(single, 'pairwise-cat', await atApp(page, await viaRedirect(page, single)));
    microsoft.user = user('dan', fabrikam);
    page = await openLogin(single);
    await expectRefused(page, await viaRedirect(page, single), 400, failedMessage('Contoso'));
    expect(logins().at(-1)).toMatchObject({ outcome: 'failure', upstream: single, detail: expect.stringMatching(notTheIssuer) });
    expect(await store.upstreamLinks.find(single, 'pairwise-dan')).toBeUndefined();
    // consumers: the personal accounts' tenant
    microsoft.user = user('fay', consumersTenant);
    page = await openLogin('ms-personal');
    await linkedAccount('ms-personal', 'pairwise-fay', await atApp(page, await viaRedirect(page, 'ms-personal')));
  });

  test('never links by email; an authority that does not answer: "not answering" (503) on the login page', async () => {
    microsoft.user = { ...user('alice', fabrikam), email: 'alice@example.com' };
    let page = await openLogin(id);
    await expectRefused(page, await viaRedirect(page, id), 403, emailInUse('Microsoft'));

    await add({ id: 'ms-down', name: 'Down', preset: 'microsoft', issuer: `http://127.0.0.1:${await closedPort()}`, clientId: 'x', clientSecret: 'y' });
    page = await openLogin('ms-down');
    const res = await page.ua.request(`${page.base}/upstream/ms-down`);
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(alertText(html)).toMatch(/^Down is not answering right now\./);
    expect(html).toContain('name="password"');
    expect(logins().at(-1)).toMatchObject({ outcome: 'failure', upstream: 'ms-down', reason: 'unreachable' });
    await registry.remove('ms-down');
  });
});
