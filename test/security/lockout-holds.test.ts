/**
 * The lockout holds under pressure: parallel guesses are taken from the budget before any
 * hashing, every name of an account shares one lock, failures are forgotten only after a quiet
 * spell, the password-hash queue is bounded and made-up usernames cannot fill it, and IPv6
 * clients are counted per /64.
 */
import {
  addUser,
  alice,
  LOGIN_FAILED,
  loginAttempt,
  metricValue,
  openInteraction,
  serversPerTest,
} from './helpers.js';

const { start } = serversPerTest();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const carol = { username: 'carol', password: 'carol has a long passphrase', email: 'carol@example.com', name: 'Carol' };

describe('the per-account budget is taken before the password is checked', () => {
  test('30 parallel wrong guesses for one username from one login form: exactly freeFailures (5) are checked, 25 refused with 429', async () => {
    const env = await start({ bruteForce: { freeFailures: 5, loginsPerIpPerMinute: 1000 } });
    const page = await openInteraction(env);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => loginAttempt(env, page, alice.username, `wrong guess ${i}`)));
    const checked = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(checked).toHaveLength(5);
    expect(refused).toHaveLength(25);
    for (const r of [...checked, ...refused]) expect(r.alert).toBe(LOGIN_FAILED);
    for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    // and the lock holds for the right password too
    expect((await loginAttempt(env, page, alice.username, alice.password)).status).toBe(429);
  });

  test('a success gives the place back: 4 failures, then the right password, then 4 more failures are all checked', async () => {
    const env = await start({ bruteForce: { freeFailures: 5 } });
    const page = await openInteraction(env);
    for (let i = 0; i < 4; i += 1) expect((await loginAttempt(env, page, alice.username, `wrong ${i}`)).status).toBe(200);
    expect((await loginAttempt(env, page, alice.username, alice.password)).status).toBe(303);
    const again = await openInteraction(env);
    for (let i = 0; i < 4; i += 1) expect((await loginAttempt(env, again, alice.username, `wrong ${i}`)).status).toBe(200);
  });
});

describe('one lock per account, whatever name is typed', () => {
  test('while carol is locked, CAROL@example.com with the right password is refused (429), not signed in', async () => {
    const env = await start({ bruteForce: { freeFailures: 3 } });
    await addUser(env.server.store, carol);
    const page = await openInteraction(env);
    for (let i = 0; i < 3; i += 1) expect((await loginAttempt(env, page, 'carol', `wrong ${i}`)).status).toBe(200);
    for (const name of ['CAROL@example.com', 'carol@EXAMPLE.com', 'Carol']) {
      const r = await loginAttempt(env, page, name, carol.password);
      expect([name, r.status, r.alert]).toEqual([name, 429, LOGIN_FAILED]);
    }
  });

  test('failures under the email and under the username add up on one account', async () => {
    const env = await start({ bruteForce: { freeFailures: 3 } });
    await addUser(env.server.store, carol);
    const page = await openInteraction(env);
    expect((await loginAttempt(env, page, 'carol', 'wrong 1')).status).toBe(200);
    expect((await loginAttempt(env, page, 'carol@example.com', 'wrong 2')).status).toBe(200);
    expect((await loginAttempt(env, page, 'CAROL', 'wrong 3')).status).toBe(200);
    expect((await loginAttempt(env, page, 'carol', carol.password)).status).toBe(429);
  });
});

describe('failures are forgotten only after resetSeconds without one', () => {
  test('an attacker failing once per wait keeps the count growing: no fresh free guesses resetSeconds after the first failure', async () => {
    const env = await start({ bruteForce: { freeFailures: 2, waitSeconds: 1, maxWaitSeconds: 1, resetSeconds: 3 } });
    const page = await openInteraction(env);
    // t≈0: two failures (the free ones), then a failure after each 1 s wait: t≈1.1, 2.2, 3.3.
    for (let i = 0; i < 2; i += 1) expect((await loginAttempt(env, page, alice.username, `wrong ${i}`)).status).toBe(200);
    for (let i = 0; i < 3; i += 1) {
      await sleep(1100);
      expect((await loginAttempt(env, page, alice.username, `late wrong ${i}`)).status).toBe(200);
    }
    // More than resetSeconds after the first failure, but never 3 s without one: still locked.
    const next = await loginAttempt(env, page, alice.username, alice.password);
    expect([next.status, next.alert]).toEqual([429, LOGIN_FAILED]);
  });

  test('resetSeconds after the last failure, the account starts over', async () => {
    const env = await start({ bruteForce: { freeFailures: 2, waitSeconds: 1, maxWaitSeconds: 1, resetSeconds: 2 } });
    const page = await openInteraction(env);
    for (let i = 0; i < 2; i += 1) expect((await loginAttempt(env, page, alice.username, `wrong ${i}`)).status).toBe(200);
    await sleep(2200);
    // two free failures again, then the right password works at once (no wait imposed)
    for (let i = 0; i < 1; i += 1) expect((await loginAttempt(env, page, alice.username, `again ${i}`)).status).toBe(200);
    expect((await loginAttempt(env, page, alice.username, alice.password)).status).toBe(303);
  });
});

describe('password hashing is bounded', () => {
  const xff = (n: number) => ({ 'x-forwarded-for': `198.51.100.${n}` });

  test('past maxWaitingHashes, sign-ins get 503 with Retry-After and a "busy" page; nothing is counted against them', async () => {
    const env = await start({ proxy: true, passwords: { maxWaitingHashes: 1 } });
    const users = Array.from({ length: 16 }, (_, i) => ({ username: `user${i}`, password: `user ${i} long passphrase`, email: `user${i}@example.com`, name: `U${i}` }));
    for (const u of users) await addUser(env.server.store, u);
    const page = await openInteraction(env);
    const results = await Promise.all(users.map((u, i) => loginAttempt(env, page, u.username, 'a wrong password', xff(i))));
    const busy = results.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    for (const r of busy) {
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(r.alert).toMatch(/Too many people are signing in right now/);
      expect(r.html).toContain('name="password"');
    }
    // a busy answer took no place from the account's budget: its owner still gets freeFailures checks
    const refusedUser = users[results.findIndex((r) => r.status === 503)]!;
    const fresh = await openInteraction(env);
    expect((await loginAttempt(env, fresh, refusedUser.username, 'wrong again', xff(200))).status).toBe(200);
    expect((await loginAttempt(env, fresh, refusedUser.username, refusedUser.password, xff(201))).status).toBe(303);
  });

  test('a flood of made-up 256-character usernames from 300 addresses hashes at most the budget; alice still signs in meanwhile', async () => {
    // defaults: unknownLoginChecksPerSecond 10
    const env = await start({ proxy: true, metrics: { onPublicPort: true } });
    const page = await openInteraction(env);
    const alicePage = await openInteraction(env);
    const started = performance.now();
    const flood = Array.from({ length: 300 }, (_, i) => loginAttempt(env, page, `${'x'.repeat(250)}${String(i).padStart(6, '0')}`, 'p4ssw0rd guess', { 'x-forwarded-for': `203.0.113.${i % 250}` }));
    const aliceResult = loginAttempt(env, alicePage, alice.username, alice.password, { 'x-forwarded-for': '192.0.2.77' });
    const [results, mine] = await Promise.all([Promise.all(flood), aliceResult]);
    const seconds = (performance.now() - started) / 1000;
    // Every made-up name gets the ordinary failure (or the per-address limit), never a 5xx.
    for (const r of results) expect([200, 429]).toContain(r.status);
    expect(mine.status).toBe(303);
    const metrics = await (await fetch(`${env.url}/metrics`)).text();
    const hashed = metricValue(metrics, 'idport_password_checks_total{kind="unknown"}') ?? 0;
    const skipped = metricValue(metrics, 'idport_password_checks_total{kind="unknown_skipped"}') ?? 0;
    // a burst of 10, then 10 a second, however long the flood took (a loaded machine takes longer,
    // so its budget, not the share skipped, is what holds); every other made-up name was skipped
    const budget = 10 + Math.ceil(seconds * 10) + 1;
    const answered = results.filter((r) => r.status === 200).length;
    expect(hashed).toBeLessThanOrEqual(budget);
    expect(hashed + skipped).toBe(answered);
    expect(skipped).toBeGreaterThanOrEqual(answered - budget);
    expect(skipped).toBeGreaterThan(0);
  });
});

describe('IPv6 clients are counted per /64', () => {
  test('failures from three addresses of one /64 block the whole /64 (ipFailuresPerHour: 3)', async () => {
    const env = await start({ proxy: true, bruteForce: { ipFailuresPerHour: 3 } });
    const page = await openInteraction(env);
    for (const [i, ip] of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:aaaa::3'].entries()) {
      expect((await loginAttempt(env, page, `someone${i}`, 'wrong', { 'x-forwarded-for': ip })).status).toBe(200);
    }
    const blocked = await loginAttempt(env, page, alice.username, alice.password, { 'x-forwarded-for': '2001:db8:1:2:ffff:ffff:ffff:ffff' });
    expect([blocked.status, blocked.alert]).toEqual([429, LOGIN_FAILED]);
    // another /64 is not blocked
    const other = await loginAttempt(env, page, alice.username, alice.password, { 'x-forwarded-for': '2001:db8:1:3::1' });
    expect(other.status).toBe(303);
  });

  test('the per-minute attempt rate counts a /64 as one client (loginsPerIpPerMinute: 3)', async () => {
    const env = await start({ proxy: true, bruteForce: { loginsPerIpPerMinute: 3 } });
    const page = await openInteraction(env);
    for (let i = 1; i <= 3; i += 1) {
      expect((await loginAttempt(env, page, `nobody${i}`, 'wrong', { 'x-forwarded-for': `2001:db8:aa:bb::${i}` })).status).toBe(200);
    }
    expect((await loginAttempt(env, page, alice.username, alice.password, { 'x-forwarded-for': '2001:db8:aa:bb::99' })).status).toBe(429);
  });
});
