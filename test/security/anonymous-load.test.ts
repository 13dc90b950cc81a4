/**
 * Anonymous load and guessing: what anyone can do without signing in. Sessions opened by /device
 * must not pile up for 14 days, device pages are limited per address and never cached, user codes
 * cannot be guessed quickly (RFC 8628 §5.1), oversized lookup values are simply not found, and
 * /metrics is not public unless asked for.
 */
import {
  addClient,
  authUrl,
  CALLBACK,
  expectErrorPage,
  freshCode,
  get,
  postJson,
  RFC_VERIFIER,
  UserAgent,
  type Env,
  serversPerTest,
} from './helpers.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const INVALID_CODE = 'That code is not valid or has expired. Check it and try again.';
const TOO_MANY_CODES = 'too many codes were entered; wait a while and try again';
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Every server a test started: after each test, checked healthy, then stopped. */
const { start } = serversPerTest();

/** A device (public client with the device grant) asks for a code; returns the user code it would show. */
async function deviceUserCode(env: Env): Promise<string> {
  const device = await addClient(env.server.store, {
    client_name: 'Living-room TV',
    grant_types: [DEVICE_GRANT],
    response_types: [],
    redirect_uris: [],
    post_logout_redirect_uris: [],
    token_endpoint_auth_method: 'none',
    client_secret: undefined,
  });
  const res = await postJson(env, '/device/auth', { client_id: device.client_id, scope: 'openid' }, null);
  expect(res.status).toBe(200);
  return res.body.user_code as string;
}

/** A browser on /device: its cookie jar and the xsrf value of the form it was last shown. */
interface DevicePage {
  ua: UserAgent;
  xsrf: string;
}

const xsrfOf = (html: string) => /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
const alertOf = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];

async function openDevicePage(env: Env, ua = new UserAgent()): Promise<DevicePage> {
  const res = await ua.request(`${env.url}/device`);
  expect(res.status).toBe(200);
  return { ua, xsrf: xsrfOf(await res.text()) };
}

/** Submits a user code on the page's form; the page takes the xsrf value of the form it gets back. */
async function enterCode(env: Env, page: DevicePage, userCode: string, headers: Record<string, string> = {}) {
  const res = await page.ua.request(`${env.url}/device`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ xsrf: page.xsrf, user_code: userCode }).toString(),
  });
  const html = await res.text();
  page.xsrf = xsrfOf(html) || page.xsrf;
  return { status: res.status, retryAfter: res.headers.get('retry-after'), cacheControl: res.headers.get('cache-control'), html, alert: alertOf(html) };
}

/** Distinct wrong codes in the device alphabet (base-20, no vowels). */
const wrongCode = (n: number) => `BCDF-GHJ${'LMNPQRSTVWXZ'[n % 12]}`;

async function sessionExpiresIn(env: Env, ua: UserAgent): Promise<{ seconds: number; accountId: unknown }> {
  const id = ua.cookies.get('idport.session');
  expect(id).toBeDefined();
  const session = await env.server.store.model('Session').find(id!);
  expect(session).toBeDefined();
  return { seconds: (session!.exp as number) - nowSeconds(), accountId: session!.accountId };
}

describe('anonymous load and guessing', () => {
  test('an anonymous visit to /device stores a session that lives ttl.interaction, not ttl.session', async () => {
    const env = await start();
    const anonymous = await openDevicePage(env);
    const stored = await sessionExpiresIn(env, anonymous.ua);
    expect(stored.accountId).toBeUndefined();
    expect(stored.seconds).toBeGreaterThan(3600 - 60);
    expect(stored.seconds).toBeLessThanOrEqual(3600); // ttl.interaction, not 14 days

    // Signing in is what earns the long lifetime.
    const { ua } = await freshCode(env);
    const signedIn = await sessionExpiresIn(env, ua);
    expect(signedIn.accountId).toEqual(expect.any(String));
    expect(signedIn.seconds).toBeGreaterThan(14 * 24 * 3600 - 60);
  });

  test('every device page is sent with Cache-Control: no-store', async () => {
    const env = await start();
    const page = await openDevicePage(env);
    const pages = [
      await get(`${env.url}/device`),
      await get(`${env.url}/device?user_code=BCDF-GHJK`),
      await get(`${env.url}/device/no-such-uid`),
    ];
    for (const res of pages) {
      expect({ url: res.url, cacheControl: res.headers.get('cache-control') }).toEqual({ url: res.url, cacheControl: 'no-store' });
      expect(res.status).toBeLessThan(500);
    }
    const wrong = await enterCode(env, page, wrongCode(0));
    expect(wrong.alert).toBe(INVALID_CODE);
    expect(wrong.cacheControl).toBe('no-store');
    const right = await enterCode(env, page, await deviceUserCode(env));
    expect(right.html).toContain('Connect Living-room TV?');
    expect(right.cacheControl).toBe('no-store');
  });

  test('one address loading /device over and over (each load a new session) is throttled: 429, Retry-After, error page', async () => {
    const env = await start();
    for (let i = 0; i < 60; i += 1) expect((await get(`${env.url}/device`)).status).toBe(200); // deviceFlow.pagesPerIpPerMinute
    const res = await get(`${env.url}/device`);
    const html = await expectErrorPage(res, 429, 'too_many_requests');
    expect(html).toContain('too many requests from your network; wait a minute and try again');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(res.headers.get('set-cookie')).toBeNull(); // no session stored for it
  });

  test('user-code guessing from one address, even with a fresh session every 3 tries, stops at 10 codes a minute', async () => {
    const env = await start();
    const userCode = await deviceUserCode(env);
    const outcomes: number[] = [];
    let page = await openDevicePage(env);
    for (let i = 0; i < 10; i += 1) {
      if (i % 3 === 0) page = await openDevicePage(env);
      const attempt = await enterCode(env, page, wrongCode(i));
      outcomes.push(attempt.status);
      expect(attempt.alert).toBe(INVALID_CODE);
    }
    expect(outcomes).toEqual(Array(10).fill(200)); // deviceFlow.codeEntriesPerIpPerMinute
    // The 11th is refused before the code is looked up: even the right one.
    const blocked = await enterCode(env, await openDevicePage(env), userCode);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(blocked.html).toContain('<code>too_many_requests</code>');
    expect(blocked.html).toContain(TOO_MANY_CODES);
    expect(blocked.html).not.toContain('Living-room TV');
  });

  test('one browser session gets 5 wrong user codes an hour; right codes do not count', async () => {
    const env = await start();
    const userCode = await deviceUserCode(env);
    const page = await openDevicePage(env);
    for (let i = 0; i < 4; i += 1) expect((await enterCode(env, page, wrongCode(i))).alert).toBe(INVALID_CODE);
    expect((await enterCode(env, page, userCode)).html).toContain('Connect Living-room TV?');
    expect((await enterCode(env, page, wrongCode(4))).alert).toBe(INVALID_CODE); // the 5th wrong one
    const blocked = await enterCode(env, page, userCode, { 'accept-language': 'ko' });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThan(60); // the session waits out its hour
    expect(Number(blocked.retryAfter)).toBeLessThanOrEqual(3600);
    expect(blocked.html).toContain('코드를 너무 많이 입력했습니다. 잠시 기다린 후 다시 시도하세요.');
    // Another browser at the same address is not held up by this one.
    expect((await enterCode(env, await openDevicePage(env), userCode)).html).toContain('Connect Living-room TV?');
  });

  test('a code posted without a stored session (never opened /device, or it expired) starts again at /device, never a 500', async () => {
    const env = await start();
    const userCode = await deviceUserCode(env);
    const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
    const anonymous = [
      await fetch(`${env.url}/device`, { method: 'POST', redirect: 'manual', headers: form, body: `xsrf=x&user_code=${userCode}` }),
      await fetch(`${env.url}/device`, { method: 'POST', redirect: 'manual', headers: { ...form, cookie: 'idport.session=forged' }, body: 'xsrf=x' }),
      await get(`${env.url}/device/some-interaction`),
    ];
    for (const res of anonymous) expect([res.status, res.headers.get('location')]).toEqual([303, '/device']);

    // The session behind an open /device page runs out (anonymous ones last ttl.interaction).
    const page = await openDevicePage(env);
    await env.server.store.model('Session').destroy(page.ua.cookies.get('idport.session')!);
    const expired = await page.ua.request(`${env.url}/device`, { method: 'POST', headers: form, body: new URLSearchParams({ xsrf: page.xsrf, user_code: userCode }).toString() });
    expect([expired.status, expired.headers.get('location')]).toEqual([303, '/device']);
    const again = await openDevicePage(env, page.ua);
    expect((await enterCode(env, again, userCode)).html).toContain('Connect Living-room TV?');
  });

  test('lookup values of 2,000 characters (codes, tokens, uids, user codes, client ids) get a clean answer, never a 500', async () => {
    const env = await start();
    const long = 'B'.repeat(2000);
    const code = await postJson(env, '/token', { grant_type: 'authorization_code', code: long, redirect_uri: CALLBACK, code_verifier: RFC_VERIFIER });
    expect([code.status, code.body.error]).toEqual([400, 'invalid_grant']);
    const refresh = await postJson(env, '/token', { grant_type: 'refresh_token', refresh_token: long });
    expect([refresh.status, refresh.body.error]).toEqual([400, 'invalid_grant']);
    expect((await postJson(env, '/token/introspection', { token: long })).body).toEqual({ active: false });
    expect((await postJson(env, '/token/revocation', { token: long })).status).toBe(200);
    expect((await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${long}` } })).status).toBe(401);
    await expectErrorPage(await get(`${env.url}/interaction/${long}`), 400, 'invalid_request');
    await expectErrorPage(await get(authUrl(env, { client_id: long })), 400, 'invalid_client');
    expect((await get(`${env.url}/device/${long}`)).status).toBe(303);
    const page = await openDevicePage(env);
    expect((await enterCode(env, page, long)).alert).toBe(INVALID_CODE);
    expect((await page.ua.request(`${env.url}/device/${long}`)).status).toBe(400);
    expect((await get(`${env.url}/device`, { cookie: `idport.session=${long}` })).status).toBe(200);
  });

  test('/metrics is not served on the public port by default, whatever NODE_ENV is', async () => {
    expect(process.env.NODE_ENV).not.toBe('production');
    const env = await start();
    const res = await get(`${env.url}/metrics`, { accept: 'text/plain' });
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('idport_http_requests_total');
  });
});
