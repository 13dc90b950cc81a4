/**
 * Attacks on the sign-in methods at /account: forms without (or with another session's) CSRF
 * token, another user's passkey, a tampered authenticator-app setup, an old session, and what
 * the audit log says about it all (never a secret).
 */
import { Writable } from 'node:stream';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { base32Encode } from '../../src/factors/totp.js';
import { startServer } from '../../src/server.js';
import { openStore } from '../../src/storage/open-store.js';
import { checkedStore } from '../helpers/checked-store.js';
import { tempDir } from '../helpers/server.js';
import { addUser, alice, csrfFrom, UserAgent } from './helpers.js';

const bobUser = { username: 'bob', password: 'bob has a long passphrase', email: 'bob@example.com', name: 'Bob' };

const logs: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const audits = (event: string) => logs.filter((l) => l.kind === 'audit' && l.audit === event);

async function start(overrides: Partial<ConfigInput> = {}) {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${tempDir()}/idport.db`, ...overrides });
  const store = checkedStore(await openStore(config.databaseUrl, {}, config.mongo));
  const server = await startServer(config, { logger: pino({ level: 'info' }, sink), store });
  return { server, store, url: server.url, stop: async () => (await server.close(), await store.close(), expect(store.violations).toEqual([])) };
}

type Env = Awaited<ReturnType<typeof start>>;
type Visitor = { ua: UserAgent; csrf: string };
let env: Env;
let aliceId: string;
let bobId: string;
/** Signed in before either has a second factor (with one, signing in takes a second step). */
let asAlice: Visitor;
let asBob: Visitor;
beforeAll(async () => {
  env = await start();
  aliceId = (await addUser(env.store)).id;
  bobId = (await addUser(env.store, bobUser)).id;
  asAlice = await signInToAccount(env.url);
  asBob = await signInToAccount(env.url, bobUser);
});
afterAll(() => env.stop());

/** Signs in to /account through the login page; returns the browser and the /account page. */
async function signInToAccount(url: string, user: { username: string; password: string } = alice, ua = new UserAgent()) {
  let step = await ua.follow(`${url}/account`, url);
  if (step.url.pathname === '/account') return { ua, csrf: csrfFrom(await step.page!.text()) };
  const login = await step.page!.text();
  expect(login).toContain('name="password"');
  const res = await ua.postForm(new URL(`${step.url.pathname}/login`, url), { csrf: csrfFrom(login), login: user.username, password: user.password });
  step = await ua.follow(step.url, url, res);
  expect(step.url.pathname).toBe('/account');
  expect(step.page!.status).toBe(200);
  return { ua, csrf: csrfFrom(await step.page!.text()) };
}

const post = (ua: UserAgent, url: string, form: Record<string, string>) => ua.postForm(url, form);

const fakePasskey = (accountId: string, id: string) => ({
  id,
  accountId,
  publicKey: base32Encode(Buffer.from(id)),
  counter: 0,
  transports: ['internal'],
  deviceType: 'singleDevice' as const,
  backedUp: false,
  aaguid: '00000000-0000-0000-0000-000000000000',
  name: `${id} key`,
});

describe('every change on /account needs the page\'s CSRF token', () => {
  const changes = ['/account/passkeys', '/account/passkeys/abc/rename', '/account/passkeys/abc/remove', '/account/totp', '/account/totp/remove', '/account/recovery-codes'];

  test.each(changes)('POST %s without a token, or with another session\'s, is a 403 and changes nothing', async (path) => {
    await env.store.factors.addPasskey(fakePasskey(aliceId, 'abc'));
    const { ua } = asAlice;
    const form = { name: 'renamed', credential: '{}', code: '123456', setup: 'otpauth://totp/x?secret=AAAA' };
    for (const csrf of [undefined, 'x'.repeat(43), asBob.csrf]) {
      const res = await post(ua, `${env.url}${path}`, csrf === undefined ? form : { ...form, csrf });
      expect(res.status).toBe(403);
    }
    // A JSON body is not read as a form: no token either.
    const json = await ua.request(`${env.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...form, csrf: asAlice.csrf }) });
    expect(json.status).toBe(403);
    expect(await env.store.factors.listPasskeys(aliceId)).toEqual([expect.objectContaining({ id: 'abc', name: 'abc key' })]);
    expect(await env.store.factors.countRecoveryCodes(aliceId)).toBe(0);
    expect(await env.store.factors.getTotp(aliceId)).toBeUndefined();
    await env.store.factors.removeAll(aliceId);
  });

  test('without a session a change is a 401; the options and setup pages send the visitor to sign in', async () => {
    const ua = new UserAgent();
    expect((await post(ua, `${env.url}/account/recovery-codes`, { csrf: 'x' })).status).toBe(401);
    const options = await ua.request(`${env.url}/account/passkeys/options`, { headers: { accept: 'application/json' } });
    expect(options.status).toBe(401);
    expect(await options.json()).toMatchObject({ error: 'login_required' });
    const setup = await ua.request(`${env.url}/account/totp`);
    expect(setup.status).toBe(302);
    expect(new URL(setup.headers.get('location')!).pathname).toBe('/auth');
  });
});

describe('another user\'s passkey', () => {
  test('cannot be renamed or removed by id (404, nothing changes); the owner can', async () => {
    await env.store.factors.addPasskey(fakePasskey(bobId, 'bobs-key'));
    const { ua, csrf } = asAlice;
    expect(await (await ua.request(`${env.url}/account`)).text()).not.toContain('bobs-key');
    const rename = await post(ua, `${env.url}/account/passkeys/bobs-key/rename`, { csrf, name: 'mine now' });
    expect(rename.status).toBe(404);
    const remove = await post(ua, `${env.url}/account/passkeys/bobs-key/remove`, { csrf });
    expect(remove.status).toBe(404);
    expect(await env.store.factors.listPasskeys(bobId)).toEqual([expect.objectContaining({ id: 'bobs-key', name: 'bobs-key key' })]);
    expect(audits('factor.removed')).toContainEqual(expect.objectContaining({ outcome: 'failure', actor: aliceId, reason: 'not-found' }));

    const bob = asBob;
    const bobCsrf = bob.csrf;
    const renamed = await post(bob.ua, `${env.url}/account/passkeys/bobs-key/rename`, { csrf: bobCsrf, name: '  Bob\u202e\'s <b>phone</b>\n ' });
    expect(renamed.status).toBe(303);
    expect(renamed.headers.get('location')).toBe('/account?notice=passkey-renamed#security');
    expect((await env.store.factors.findPasskey('bobs-key'))!.name).toBe("Bob 's <b>phone</b>");
    const page = await (await bob.ua.request(`${env.url}/account?notice=passkey-renamed`)).text();
    expect(page).toContain('Bob &#39;s &lt;b&gt;phone&lt;/b&gt;');
    expect(page).toContain('role="status">Passkey renamed.');
    const empty = await post(bob.ua, `${env.url}/account/passkeys/bobs-key/rename`, { csrf: bobCsrf, name: ' \t ' });
    expect(empty.headers.get('location')).toBe('/account?error=name-required#security');
    expect((await post(bob.ua, `${env.url}/account/passkeys/bobs-key/remove`, { csrf: bobCsrf })).status).toBe(303);
    expect(await env.store.factors.listPasskeys(bobId)).toEqual([]);
    expect(audits('factor.removed')).toContainEqual(expect.objectContaining({ outcome: 'success', actor: bobId, factor: 'passkey', passkey_id: 'bobs-key' }));
  });

  test('a passkey answer that is not a valid registration is refused, nothing stored', async () => {
    const { ua, csrf } = asAlice;
    for (const credential of ['', 'not json', '{"id":"x","response":{}}']) {
      const res = await post(ua, `${env.url}/account/passkeys`, { csrf, name: 'Phone', credential });
      expect(res.headers.get('location')).toBe('/account?error=passkey-failed#security');
    }
    expect(await env.store.factors.listPasskeys(aliceId)).toEqual([]);
    expect(audits('factor.added')).toContainEqual(expect.objectContaining({ outcome: 'failure', actor: aliceId, factor: 'passkey', reason: 'malformed' }));
  });
});

describe('authenticator app setup', () => {
  test('only the secret this session was shown can be confirmed: a chosen or another session\'s secret is a 403', async () => {
    const { ua, csrf } = asAlice;
    const setupPage = await (await ua.request(`${env.url}/account/totp`)).text();
    const setup = /name="setup" value="([^"]+)"/.exec(setupPage)![1]!.replace(/&amp;/g, '&');
    const mac = /name="setup_mac" value="([^"]+)"/.exec(setupPage)![1]!;
    const chosen = 'otpauth://totp/idport:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    expect((await post(ua, `${env.url}/account/totp`, { csrf, setup: chosen, setup_mac: mac, code: '123456' })).status).toBe(403);
    expect((await post(asBob.ua, `${env.url}/account/totp`, { csrf: asBob.csrf, setup, setup_mac: mac, code: '123456' })).status).toBe(403);
    // The right form with a wrong code: the same page again, with the error and the same secret.
    const wrong = await post(ua, `${env.url}/account/totp`, { csrf, setup, setup_mac: mac, code: '000000' });
    expect(wrong.status).toBe(200);
    const again = await wrong.text();
    expect(again).toContain('That code does not match.');
    expect(again).toContain(`name="setup_mac" value="${mac}"`);
    expect(await env.store.factors.getTotp(aliceId)).toBeUndefined();
    expect(await env.store.factors.getTotp(bobId)).toBeUndefined();
  });

  test('the setup page carries the QR code as SVG without style attributes, under the page CSP', async () => {
    const res = await asAlice.ua.request(`${env.url}/account/totp`);
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.headers.get('content-security-policy')).toContain("style-src 'self'");
    const html = await res.text();
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6);
    expect(svg).toMatch(/^<svg aria-hidden="true" focusable="false" xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).not.toMatch(/style|script|href|\son\w+=/i);
    expect(html).toContain('role="img" aria-label="QR code for your authenticator app"');
    expect(html).toMatch(/<code id="totp-secret"[^>]*>([A-Z2-7]{4} ){7}[A-Z2-7]{4}<\/code>/);
  });
});

describe('audit', () => {
  test('factor events name the actor, address and factor, never a secret or code', async () => {
    const page = await (await post(asBob.ua, `${env.url}/account/recovery-codes`, { csrf: asBob.csrf })).text();
    const codes = [...page.matchAll(/<li><code>([A-Z2-7-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
    expect(codes).toHaveLength(10);
    const event = audits('factor.replaced').at(-1)!;
    expect(event).toMatchObject({ outcome: 'success', actor: bobId, ip: expect.any(String), factor: 'recovery-codes', count: 10 });
    const everything = JSON.stringify(logs);
    for (const code of codes) expect(everything).not.toContain(code);
    expect(everything).not.toContain(bobUser.password);
  });
});

describe('an old sign-in', () => {
  let old: Env;
  let oldAliceId: string;
  beforeAll(async () => {
    old = await start({ mfa: { reauthSeconds: 1 } });
    oldAliceId = (await addUser(old.store)).id;
  });
  afterAll(() => old.stop());

  test('is sent to sign in again (prompt=login) before any change, then comes back to /account and may change', async () => {
    const { ua, csrf } = await signInToAccount(old.url);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const page = await (await ua.request(`${old.url}/account`)).text();
    expect(page).toContain('Before you change these, you will be asked to sign in again.');
    expect(page).not.toContain('data-passkey="create"');
    const options = await ua.request(`${old.url}/account/passkeys/options`, { headers: { accept: 'application/json' } });
    expect(options.status).toBe(401);
    for (const [method, path] of [['GET', '/account/totp'], ['POST', '/account/recovery-codes'], ['POST', '/account/totp/remove'], ['POST', '/account/passkeys']]) {
      const res = method === 'GET' ? await ua.request(`${old.url}${path}`) : await post(ua, `${old.url}${path}`, { csrf });
      expect([path, res.status]).toEqual([path, method === 'GET' ? 302 : 303]);
      const to = new URL(res.headers.get('location')!);
      expect(to.pathname).toBe('/auth');
      expect(to.searchParams.get('prompt')).toBe('login');
      expect(to.searchParams.get('login_hint')).toBe('alice');
    }
    expect(await old.store.factors.countRecoveryCodes(oldAliceId)).toBe(0);

    // Signing in again: the login page (even with a session), then back to /account.
    const again = await ua.follow((await post(ua, `${old.url}/account/recovery-codes`, { csrf })).headers.get('location')!, old.url);
    const login = await again.page!.text();
    expect(login).toContain('value="alice"');
    const res = await ua.postForm(new URL(`${again.url.pathname}/login`, old.url), { csrf: csrfFrom(login), login: alice.username, password: alice.password });
    const back = await ua.follow(again.url, old.url, res);
    expect(back.url.pathname).toBe('/account');
    const fresh = await post(ua, `${old.url}/account/recovery-codes`, { csrf: csrfFrom(await back.page!.text()) });
    expect(fresh.status).toBe(200);
    expect(await old.store.factors.countRecoveryCodes(oldAliceId)).toBe(10);
  });
});
