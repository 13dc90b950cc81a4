/**
 * Password guessing: per-username lockout (including usernames that do not exist), per-IP
 * failure blocks and attempt rates, counters shared through the store, and no user enumeration
 * by response text or timing.
 */
import {
  addUser,
  alice,
  discover,
  LOGIN_FAILED,
  median,
  openInteraction,
  startTestServer,
  type Env,
  type InteractionPage,
  loginAttempt,
  serversPerTest,
} from './helpers.js';

/** Every server a test started: after each test, checked healthy, then stopped. */
const { live, start } = serversPerTest();

const users = ['bob', 'carol', 'dave', 'erin'].map((username) => ({
  username,
  password: `${username} has a long passphrase`,
  email: `${username}@example.com`,
  name: username,
}));

async function withUsers(env: Env) {
  for (const u of users) await addUser(env.server.store, u);
}

/** One login attempt on an open login page (the page stays usable after a failure). */
const attempt = loginAttempt;

/** A page's HTML with the per-request parts (uid, csrf, echoed login) blanked out. */
const normalise = (html: string, page: InteractionPage, login: string) =>
  html.split(page.uid).join('UID').split(page.csrf).join('CSRF').split(`value="${login}"`).join('value="LOGIN"');

async function fail(env: Env, page: InteractionPage, login: string, times: number) {
  for (let i = 0; i < times; i += 1) {
    const r = await attempt(env, page, login, `wrong password number ${i}`);
    expect([r.status, r.alert]).toEqual([200, LOGIN_FAILED]);
  }
}

const lockout = { bruteForce: { freeFailures: 3, waitSeconds: 60, maxWaitSeconds: 900 } };

describe('per-username lockout', () => {
  test('3 failures for alice, then the RIGHT password → 429 with Retry-After and the ordinary failure message', async () => {
    const env = await start(lockout);
    const page = await openInteraction(env);
    await fail(env, page, alice.username, 3);
    const locked = await attempt(env, page, alice.username, alice.password);
    expect(locked.status).toBe(429);
    expect(locked.location).toBeNull();
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(55);
    expect(Number(locked.retryAfter)).toBeLessThanOrEqual(60);
    expect(locked.alert).toBe(LOGIN_FAILED);
    expect(locked.html).toContain('name="password"');
  });

  test('the lockout ignores case and Unicode width (ALICE, ａｌｉｃｅ are the same account)', async () => {
    const env = await start(lockout);
    const page = await openInteraction(env);
    await fail(env, page, 'ALICE', 2);
    await fail(env, page, 'ａｌｉｃｅ', 1);
    expect((await attempt(env, page, alice.username, alice.password)).status).toBe(429);
  });

  test('a NON-EXISTENT username locks after the same failures with a response identical to a real locked account (no enumeration)', async () => {
    const env = await start(lockout);
    await withUsers(env);
    const real = await openInteraction(env);
    const ghost = await openInteraction(env);
    await fail(env, real, 'carol', 3);
    await fail(env, ghost, 'nobody-here', 3);
    const a = await attempt(env, real, 'carol', 'carol has a long passphrase');
    const b = await attempt(env, ghost, 'nobody-here', 'whatever password');
    expect(a.status).toBe(429);
    expect(b.status).toBe(429);
    expect(b.alert).toBe(LOGIN_FAILED);
    expect(Math.abs(Number(a.retryAfter) - Number(b.retryAfter))).toBeLessThanOrEqual(2);
    expect(normalise(b.html, ghost, 'nobody-here')).toBe(normalise(a.html, real, 'carol'));
  });

  test('a different username from the same IP still gets through while alice is locked', async () => {
    const env = await start(lockout);
    await withUsers(env);
    const page = await openInteraction(env);
    await fail(env, page, alice.username, 3);
    expect((await attempt(env, page, alice.username, alice.password)).status).toBe(429);
    // an unknown other name: an ordinary failure page, not a lockout
    const other = await attempt(env, page, 'someone-else', 'wrong password');
    expect([other.status, other.alert]).toEqual([200, LOGIN_FAILED]);
    // bob, right password: signed in (303 back into the flow)
    const bob = await attempt(env, page, 'bob', 'bob has a long passphrase');
    expect(bob.status).toBe(303);
    expect(bob.location).toMatch(/\/auth\/[\w-]+$/);
  });

  test('lockout counters live in the store: a second server on the same store sees alice locked', async () => {
    const first = await start(lockout);
    const page = await openInteraction(first);
    await fail(first, page, alice.username, 3);
    live.splice(live.indexOf(first.server), 1);
    await first.server.close(); // keeps the temp directory

    const server = await startTestServer(lockout, first.server.dir);
    live.push(server);
    const second: Env = { server, url: server.url, client: first.client, config: await discover(server.url, first.client.client_id, first.client.client_secret) };
    expect(second.url).not.toBe(first.url);
    const page2 = await openInteraction(second);
    const locked = await attempt(second, page2, alice.username, alice.password);
    expect(locked.status).toBe(429);
    expect(locked.alert).toBe(LOGIN_FAILED);
  });
});

describe('per-IP limits', () => {
  test('ipFailuresPerHour: 5 — 5 failures spread over 5 usernames block 127.0.0.1: the 6th attempt, even with the right password, → 429', async () => {
    const env = await start({ bruteForce: { ipFailuresPerHour: 5 } });
    const page = await openInteraction(env);
    for (const name of ['u1', 'u2', 'u3', 'u4', 'u5']) await fail(env, page, name, 1);
    const blocked = await attempt(env, page, alice.username, alice.password);
    expect(blocked.status).toBe(429);
    expect(blocked.alert).toBe(LOGIN_FAILED);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
  });

  test('ipFailuresPerHour: 5 — a blocked IP is told to wait ipBlockSeconds (900 s), with the ordinary failure message', async () => {
    const env = await start({ bruteForce: { ipFailuresPerHour: 5, ipBlockSeconds: 900 } });
    const page = await openInteraction(env);
    // six failures: enough to block whether the limit counts from the 5th or the 6th failure
    for (const name of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) await attempt(env, page, name, 'wrong password');
    const blocked = await attempt(env, page, alice.username, alice.password);
    expect(blocked.status).toBe(429);
    expect(blocked.alert).toBe(LOGIN_FAILED);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(890);
    expect(Number(blocked.retryAfter)).toBeLessThanOrEqual(900);
  });

  test('loginsPerIpPerMinute: 3 — the 4th attempt within a minute → 429, whatever the outcome of the first three', async () => {
    const env = await start({ bruteForce: { loginsPerIpPerMinute: 3 } });
    await withUsers(env);
    const page = await openInteraction(env);
    await fail(env, page, 'bob', 1);
    await fail(env, page, 'carol', 1);
    await fail(env, page, 'nobody', 1);
    const fourth = await attempt(env, page, 'dave', 'dave has a long passphrase');
    expect(fourth.status).toBe(429);
    expect(fourth.alert).toBe(LOGIN_FAILED);
    expect(Number(fourth.retryAfter)).toBeGreaterThan(0);
    expect(Number(fourth.retryAfter)).toBeLessThanOrEqual(60);
  });

  test('proxy on: a client-supplied X-Forwarded-For entry does not reset the per-IP attempt rate', async () => {
    // A TLS proxy appends the real client address; the attacker controls everything left of it.
    const env = await start({ proxy: true, bruteForce: { loginsPerIpPerMinute: 3 } });
    const page = await openInteraction(env);
    const results: number[] = [];
    for (let i = 1; i <= 4; i += 1) {
      const r = await attempt(env, page, `nobody${i}`, 'wrong password', { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.7` });
      results.push(r.status);
    }
    expect(results).toEqual([200, 200, 200, 429]);
  });
});

describe('no user enumeration', () => {
  test('unknown user and wrong password: same status, message, headers and page (apart from uid/csrf/login)', async () => {
    const env = await start({});
    const p1 = await openInteraction(env);
    const p2 = await openInteraction(env);
    const wrong = await attempt(env, p1, 'alice', 'not the password');
    const unknown = await attempt(env, p2, 'zelda', 'not the password');
    expect(unknown.status).toBe(wrong.status);
    expect(wrong.status).toBe(200);
    expect(wrong.alert).toBe(LOGIN_FAILED);
    expect(unknown.alert).toBe(LOGIN_FAILED);
    expect(normalise(unknown.html, p2, 'zelda')).toBe(normalise(wrong.html, p1, 'alice'));
  });

  test('unknown user and wrong password take about the same time (medians of 5 within a factor of 3)', async () => {
    const env = await start({ bruteForce: { freeFailures: 100, loginsPerIpPerMinute: 1000 } });
    const p1 = await openInteraction(env);
    const p2 = await openInteraction(env);
    await attempt(env, p2, 'warm-up-unknown', 'x-password'); // builds the dummy hash once
    await attempt(env, p1, 'alice', 'x-password');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      known.push((await attempt(env, p1, 'alice', `wrong password ${i}`)).ms);
      unknown.push((await attempt(env, p2, `ghost${i}`, `wrong password ${i}`)).ms);
    }
    const [k, u] = [median(known), median(unknown)];
    expect(u).toBeGreaterThan(k / 3);
    expect(u).toBeLessThan(k * 3);
  });
});
