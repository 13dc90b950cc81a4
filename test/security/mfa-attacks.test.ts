/**
 * Attacks on the second step of a sign-in: guessing, replaying and skipping one-time codes, using
 * someone else's pending first factor, forged or malformed form posts, a stale first factor.
 */
import { enrolTotp, factorsOf, type TotpApp } from '../helpers/factors.js';
import {
  addClient,
  addUser,
  afterEachHealthy,
  CALLBACK,
  csrfFrom,
  get,
  LOGIN_FAILED,
  loginAttempt,
  openInteraction,
  postInteraction,
  setup,
  UserAgent,
  type Env,
  type InteractionPage,
} from './helpers.js';

const MFA_FAILED = 'That code is not right, or was already used. Try again.';
let env: Env;
let users = 0;

beforeAll(async () => {
  env = await setup({ bruteForce: { freeFailures: 3, loginsPerIpPerMinute: 1000 } });
  env.client = await addClient(env.server.store, { redirect_uris: [CALLBACK], first_party: true });
});
afterAll(async () => {
  await env?.server.stop();
});
afterEachHealthy(() => [env?.server]);

/** A new user with TOTP set up (each test its own: the account lock is per account). */
async function userWithTotp(): Promise<{ username: string; password: string; id: string; app: TotpApp }> {
  users += 1;
  const who = { username: `user${users}`, password: `user ${users} has a long password`, email: `user${users}@example.com`, name: 'U' };
  const account = await addUser(env.server.store, who);
  return { ...who, id: account.id, app: await enrolTotp(await factorsOf(env.server), account) };
}

/** The password step done: the interaction waits for the second factor. */
async function pendingSecondStep(who: { username: string; password: string }): Promise<InteractionPage> {
  const page = await openInteraction(env);
  const res = await postInteraction(env, page, 'login', { csrf: page.csrf, login: who.username, password: who.password });
  expect([res.status, res.headers.get('location')]).toEqual([303, `/interaction/${page.uid}`]);
  return page;
}

function post(page: InteractionPage, path: string, form: Record<string, string>, ua = page.ua) {
  return ua.request(new URL(`/interaction/${page.uid}/${path}`, env.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

const alertOf = (html: string) => /<p class="alert" role="alert" id="[a-z]+-error">([^<]*)<\/p>/.exec(html)?.[1];

describe('one-time codes', () => {
  test('a wrong code is refused: the mfa page again, nothing sent to the client', async () => {
    const who = await userWithTotp();
    const page = await pendingSecondStep(who);
    const res = await post(page, 'mfa', { csrf: page.csrf, code: who.app.wrongCode() });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(alertOf(await res.text())).toBe(MFA_FAILED);
  });

  test('a replayed TOTP code is refused, even in a new sign-in', async () => {
    const who = await userWithTotp();
    const code = who.app.code();
    const first = await pendingSecondStep(who);
    const ok = await post(first, 'mfa', { csrf: first.csrf, code });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toMatch(/\/auth\//);
    const second = await pendingSecondStep(who);
    const replayed = await post(second, 'mfa', { csrf: second.csrf, code });
    expect(replayed.status).toBe(200);
    expect(alertOf(await replayed.text())).toBe(MFA_FAILED);
  });

  test('guessing codes hits the account lock shared with passwords: 429 + Retry-After, then even the right password is refused', async () => {
    const who = await userWithTotp();
    const page = await pendingSecondStep(who);
    const guesses = [1, 2, 3].map((n) => who.app.wrongCode(n));
    for (const code of guesses) expect((await post(page, 'mfa', { csrf: page.csrf, code })).status).toBe(200);
    const locked = await post(page, 'mfa', { csrf: page.csrf, code: who.app.code() });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(alertOf(await locked.text())).toBe('Too many wrong codes. Wait a few minutes and try again.');
    // The same lock: the password step for this account is locked too.
    const fresh = await openInteraction(env);
    const password = await loginAttempt(env, fresh, who.username, who.password);
    expect([password.status, password.alert]).toEqual([429, LOGIN_FAILED]);
  });
});

describe('skipping or borrowing the second step', () => {
  test('going straight back to /auth/:uid after the password signs nobody in: a new login page', async () => {
    const who = await userWithTotp();
    const page = await pendingSecondStep(who);
    const step = await page.ua.follow(new URL(`/auth/${page.uid}`, env.url), env.url);
    expect(step.left).toBeUndefined();
    const html = await step.page!.text();
    expect(html).toContain('name="password"');
    expect(step.url.pathname).not.toBe(`/interaction/${page.uid}`);
  });

  test('another browser cannot use the pending first factor (the interaction is bound to its cookie)', async () => {
    const who = await userWithTotp();
    const page = await pendingSecondStep(who);
    const attacker = new UserAgent();
    const res = await post(page, 'mfa', { csrf: page.csrf, code: who.app.code() }, attacker);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.headers.get('location')).toBeNull();
    // the victim's own second step still works
    expect((await post(page, 'mfa', { csrf: page.csrf, code: who.app.code() })).status).toBe(303);
  });

  test('without a password first there is no second step: /mfa sends back to the login page, options are refused', async () => {
    const page = await openInteraction(env);
    const res = await post(page, 'mfa', { csrf: page.csrf, code: '123456' });
    expect([res.status, res.headers.get('location')]).toEqual([303, `/interaction/${page.uid}`]);
    const passkey = await post(page, 'mfa/passkey', { csrf: page.csrf, credential: '{}' });
    expect([passkey.status, passkey.headers.get('location')]).toEqual([303, `/interaction/${page.uid}`]);
    const options = await page.ua.request(new URL(`/interaction/${page.uid}/mfa/passkey/options`, env.url), { headers: { accept: 'application/json' } });
    expect(options.status).toBe(400);
    expect(((await options.json()) as { error: string }).error).toBe('invalid_request');
  });

  test('a first factor older than 10 minutes is gone: the login page again ("took too long")', async () => {
    const who = await userWithTotp();
    const page = await pendingSecondStep(who);
    const interaction = (await env.server.idport.provider().Interaction.find(page.uid))!;
    const result = interaction.result as { idport: { firstFactor: { at: number } } };
    result.idport.firstFactor.at -= 601_000;
    await interaction.save(interaction.exp! - Math.floor(Date.now() / 1000));
    const res = await post(page, 'mfa', { csrf: page.csrf, code: who.app.code() });
    expect([res.status, res.headers.get('location')]).toEqual([303, `/interaction/${page.uid}`]);
    const again = await page.ua.request(new URL(`/interaction/${page.uid}`, env.url));
    const html = await again.text();
    expect(html).toContain('name="password"');
    expect(alertOf(html)).toBe('That took too long. Sign in again.');
  });
});

describe('forged and malformed posts', () => {
  test('the code and passkey forms need the CSRF token (403)', async () => {
    const who = await userWithTotp();
    const page = await pendingSecondStep(who);
    expect((await post(page, 'mfa', { code: who.app.code() })).status).toBe(403);
    expect((await post(page, 'mfa', { csrf: 'forged', code: who.app.code() })).status).toBe(403);
    expect((await post(page, 'mfa/passkey', { credential: '{}' })).status).toBe(403);
    const login = await openInteraction(env);
    expect((await post(login, 'passkey', { credential: '{}' })).status).toBe(403);
  });

  test('malformed passkey answers are a 400 with the page again; a missing or repeated field too', async () => {
    const login = await openInteraction(env);
    const junk = await post(login, 'passkey', { csrf: login.csrf, credential: 'not json' });
    expect(junk.status).toBe(400);
    expect(alertOf(await junk.text())).toBe('That passkey did not work. Try again, or sign in with your password.');
    expect((await post(login, 'passkey', { csrf: login.csrf })).status).toBe(400);
    const twice = await login.ua.request(new URL(`/interaction/${login.uid}/passkey`, env.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(login.csrf)}&credential=a&credential=b`,
    });
    expect(twice.status).toBe(400);
    const unknown = await post(login, 'passkey', { csrf: login.csrf, credential: JSON.stringify({ id: 'nope', rawId: 'nope', type: 'public-key', response: {} }) });
    expect(unknown.status).toBe(200);
    expect(alertOf(await unknown.text())).toBe('That passkey did not work. Try again, or sign in with your password.');
    const who = await userWithTotp();
    const page = await pendingSecondStep(who);
    const res = await post(page, 'mfa/passkey', { csrf: page.csrf, credential: '[' });
    expect(res.status).toBe(400);
    expect(csrfFrom(await res.text())).toBe(page.csrf);
  });

  test('the passkey options are JSON, no-store, and bound to the interaction (another browser gets none)', async () => {
    const login = await openInteraction(env);
    const res = await login.ua.request(new URL(`/interaction/${login.uid}/passkey/options`, env.url), { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-store');
    const options = (await res.json()) as { challenge: string; rpId: string; userVerification: string; allowCredentials?: unknown[] };
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials ?? []).toEqual([]);
    expect((await get(new URL(`/interaction/${login.uid}/passkey/options`, env.url), { accept: 'application/json' })).status).toBeGreaterThanOrEqual(400);
  });
});
