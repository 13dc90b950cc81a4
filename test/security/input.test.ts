/**
 * Hostile input shapes: oversized bodies and query strings, operator-injection and array shapes
 * in the login form, prototype pollution. Each must end in a 4xx with a proper error, never a 500.
 */
import { request as httpRequest } from 'node:http';

import {
  afterEachHealthy,
  alertText,
  alice,
  authUrl,
  LOGIN_FAILED,
  openInteraction,
  postInteraction,
  setup,
  tokenRequest,
  type Env,
} from './helpers.js';

let env: Env;

beforeAll(async () => {
  env = await setup();
});
afterAll(() => env.server.stop());
afterEachHealthy(() => [env?.server]);

describe('oversized requests', () => {
  test('a 17 kB form to POST /interaction/:uid/login (JSON client) → 413 {error: invalid_request, "the form is too large"}', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(
      env,
      page,
      'login',
      { csrf: page.csrf, login: alice.username, password: alice.password, pad: 'x'.repeat(17 * 1024) },
      'application/json',
    );
    expect(res.status).toBe(413);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'the form is too large' });
  });

  test('a 1 MB form to POST /interaction/:uid/login (browser) → 413 HTML error page, not 500', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'login', { csrf: page.csrf, login: alice.username, password: 'p'.repeat(1024 * 1024) });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<code>invalid_request</code>');
    expect(html).toContain('the form is too large');
  });

  test('a 100 kB body at /token → 400 invalid_request "failed to parse the request body", not 500', async () => {
    const res = await tokenRequest(env, { grant_type: 'client_credentials', scope: 'openid', pad: 'x'.repeat(100 * 1024) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'failed to parse the request body' });
  });

  test('a 100 kB state in the /auth query string → 431 from Node (headers too large), never 500', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(authUrl(env, { state: 's'.repeat(100 * 1024) }), { method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(431);
  });

  test('a 2 kB password is refused as too long (400), not hashed', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'login', { csrf: page.csrf, login: alice.username, password: 'p'.repeat(2048) }, 'application/json');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'password is too long' });
  });
});

describe('form bodies idport does not read', () => {
  test('a gzip-encoded form → 400 invalid_request saying why, never a 500 and no login', async () => {
    const page = await openInteraction(env);
    const { gzipSync } = await import('node:zlib');
    const res = await page.ua.request(new URL(`/interaction/${page.uid}/login`, env.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip', accept: 'application/json' },
      body: gzipSync(new URLSearchParams({ csrf: page.csrf, login: alice.username, password: alice.password }).toString()),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'the form body could not be read (content encoding gzip is not accepted)' });
  });

  test('one field sent 1,800 times (within 16 KiB) → 400 "must be a single text value"', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'login', `csrf=${encodeURIComponent(page.csrf)}&password=x&${'login=a&'.repeat(1_800)}`, 'application/json');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'login must be a single text value' });
  });
});

describe('operator injection and array shapes in the login form', () => {
  test.each([
    ['login[$ne]=x', 'login[$ne]=x&password=whatever', 'login'],
    ['login[]=a&login[]=b', 'login[]=alice&login[]=bob&password=whatever', 'login'],
    ['login=a&login=b (repeated field)', 'login=alice&login=bob&password=whatever', 'login'],
    ['password[$gt]=', 'login=alice&password[$gt]=', 'password'],
    ['password[$regex]=.*', 'login=alice&password[$regex]=.*', 'password'],
    ['login[toString]=x', 'login[toString]=x&password=whatever', 'login'],
  ])('%s → 400 invalid_request, no login', async (_name, fields, field) => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'login', `csrf=${encodeURIComponent(page.csrf)}&${fields}`, 'application/json');
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: `${field} must be a single text value` });
  });

  test('a CSRF token sent as an array (csrf[]=…) → 403', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'login', `csrf[]=${encodeURIComponent(page.csrf)}&login=alice&password=x`, 'application/json');
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });

  test('__proto__ / constructor.prototype fields do not pollute Object.prototype; the login just fails', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(
      env,
      page,
      'login',
      `csrf=${encodeURIComponent(page.csrf)}&login=alice&password=wrong-password&__proto__[polluted]=yes&constructor[prototype][polluted2]=yes`,
    );
    expect(res.status).toBe(200);
    expect(alertText(await res.text())).toBe(LOGIN_FAILED);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted2).toBeUndefined();
  });

  test('a JSON body with operator objects to the login form → 403: only forms are parsed, so it carries no CSRF token', async () => {
    const page = await openInteraction(env);
    const res = await page.ua.request(new URL(`/interaction/${page.uid}/login`, env.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ csrf: page.csrf, login: { $ne: 'x' }, password: { $gt: '' } }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });
});
