/**
 * Attacks on where the provider sends the browser: redirect URI look-alikes, unknown clients,
 * post-logout redirect URIs, and errors that must (or must not) go back to the client.
 */
import {
  addClient,
  afterEachHealthy,
  authUrl,
  expectBackAtClient,
  expectErrorPage,
  get,
  LOGGED_OUT,
  setup,
  type Env,
} from './helpers.js';

let env: Env;

beforeAll(async () => {
  env = await setup();
});
afterAll(() => env.server.stop());
afterEachHealthy(() => [env?.server]);

describe('redirect_uri must match a registered one exactly', () => {
  // registered: http://127.0.0.1:8080/callback and https://app.example.com/cb
  test.each([
    ['unregistered', 'https://evil.example/callback'],
    ['query added to a registered one', 'http://127.0.0.1:8080/callback?next=https://evil.example'],
    ['trailing slash', 'http://127.0.0.1:8080/callback/'],
    ['other host (suffix look-alike)', 'https://app.example.com.evil.example/cb'],
    ['other host (localhost for 127.0.0.1)', 'http://localhost:8080/callback'],
    ['other port', 'http://127.0.0.1:8081/callback'],
    ['different case in path', 'http://127.0.0.1:8080/Callback'],
    ['userinfo trick https://good@evil', 'https://app.example.com@evil.example/cb'],
    ['http instead of https', 'http://app.example.com/cb'],
    ['fragment added', 'https://app.example.com/cb#x'],
    ['path traversal', 'http://127.0.0.1:8080/callback/../evil'],
  ])('redirect_uri %s → 400 invalid_redirect_uri page, no Location', async (_name, uri) => {
    const res = await get(authUrl(env, { redirect_uri: uri }));
    const html = await expectErrorPage(res, 400, 'invalid_redirect_uri');
    expect(html).not.toContain('evil.example');
  });

  test('a registered redirect_uri is accepted (control: the look-alikes fail for the right reason)', async () => {
    const res = await get(authUrl(env, { redirect_uri: 'https://app.example.com/cb' }));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/interaction\/[\w-]+$/);
  });
});

test('unknown client_id → 400 invalid_client page, no redirect even to a plausible redirect_uri', async () => {
  const res = await get(authUrl(env, { client_id: 'no-such-client' }));
  await expectErrorPage(res, 400, 'invalid_client');
});

test('prompt=none without a session → back at the client with error=login_required', async () => {
  const res = await get(authUrl(env, { prompt: 'none' }));
  const params = expectBackAtClient(res);
  expect(params.get('error')).toBe('login_required');
  expect(params.get('state')).toBe('state-123');
  expect(params.get('code')).toBeNull();
  expect(params.get('iss')).toBe(env.url);
});

describe('post_logout_redirect_uri', () => {
  const endSession = (params: Record<string, string>) => {
    const url = new URL(`${env.url}/session/end`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return get(url);
  };

  test('an unregistered post_logout_redirect_uri → 400 error page, no redirect', async () => {
    const res = await endSession({ client_id: env.client.client_id, post_logout_redirect_uri: 'https://evil.example/logged-out' });
    const html = await expectErrorPage(res, 400, 'invalid_request');
    expect(html).toContain('post_logout_redirect_uri not registered');
  });

  test('a query added to the registered post_logout_redirect_uri → 400 error page, no redirect', async () => {
    const res = await endSession({ client_id: env.client.client_id, post_logout_redirect_uri: `${LOGGED_OUT}?next=https://evil.example` });
    const html = await expectErrorPage(res, 400, 'invalid_request');
    expect(html).toContain('post_logout_redirect_uri not registered');
  });

  test("another client's post_logout_redirect_uri → 400 error page, no redirect", async () => {
    const other = await addClient(env.server.store, { post_logout_redirect_uris: ['https://other.example/bye'] });
    const res = await endSession({ client_id: env.client.client_id, post_logout_redirect_uri: other.post_logout_redirect_uris[0]! });
    await expectErrorPage(res, 400, 'invalid_request');
  });

  test('the registered post_logout_redirect_uri is accepted (control): a page posting to our own confirm endpoint, no redirect yet', async () => {
    const res = await endSession({ client_id: env.client.client_id, post_logout_redirect_uri: LOGGED_OUT });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain(`action="${env.url}/session/end/confirm"`);
  });
});

test('errors for an unregistered redirect_uri are never delivered to it, even with response_mode=query', async () => {
  const res = await get(authUrl(env, { redirect_uri: 'https://evil.example/cb', response_mode: 'query', response_type: 'token' }));
  await expectErrorPage(res, 400, 'invalid_redirect_uri');
});
