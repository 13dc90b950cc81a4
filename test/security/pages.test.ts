/**
 * Attacks on the HTML pages: reflected and stored XSS, CSRF on every form, framing and caching
 * headers, and spoofed Host / X-Forwarded-* headers.
 */
import {
  addClient,
  addUser,
  afterEachHealthy,
  authUrl,
  CALLBACK_ORIGIN,
  freshCode,
  get,
  LOGGED_OUT,
  openConsent,
  openInteraction,
  postInteraction,
  rawGet,
  setup,
  type Client,
  type Env,
} from './helpers.js';

let env: Env;
let proxied: Env | undefined;
let xssClient: Client;
const xssName = '<img src=x onerror=alert(1)>';
const xssNameEscaped = '&lt;img src=x onerror=alert(1)&gt;';
/** The one script the login page loads (a file: the CSP allows no inline script). */
const passkeyScript = '<script src="/assets/passkey.js" defer></script>';
const scriptsOf = (html: string) => html.match(/<script[^>]*>[^<]*(<\/script>)?/gi) ?? [];

beforeAll(async () => {
  env = await setup();
  xssClient = (await addClient(env.server.store, { client_name: xssName })) as Client;
});
afterAll(async () => {
  await env.server.stop();
  await proxied?.server.stop();
});
afterEachHealthy(() => [env?.server, proxied?.server]);

describe('XSS', () => {
  test('login_hint=<script>alert(1)</script> is escaped in the login page, never raw', async () => {
    const { html } = await openInteraction(env, { login_hint: '<script>alert(1)</script>' });
    expect(html).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).not.toContain('<script>alert(1)');
    expect(scriptsOf(html)).toEqual([passkeyScript]);
  });

  test('login_hint breaking out of the value attribute ("><svg onload=…>) stays inside it', async () => {
    const { html } = await openInteraction(env, { login_hint: '"><svg onload=alert(1)>' });
    expect(html).toContain('value="&quot;&gt;&lt;svg onload=alert(1)&gt;"');
    expect(html).not.toContain('<svg');
  });

  test('ui_locales with markup never reaches the login page raw', async () => {
    const { html, res } = await openInteraction(env, { ui_locales: '<script>alert(1)</script> en' });
    expect(res.status).toBe(200);
    expect(html).not.toContain('<script>alert(1)');
    expect(scriptsOf(html)).toEqual([passkeyScript]);
    // it is not reflected at all; if it ever is, it must be escaped
    if (html.includes('alert(1)')) expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  test('a typed-back login with markup (failed login re-render) is escaped', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'login', { csrf: page.csrf, login: '<script>alert(1)</script>', password: 'wrong-password' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(scriptsOf(html)).toEqual([passkeyScript]);
  });

  test('client_name <img src=x onerror=alert(1)> is escaped on the login page', async () => {
    const { html } = await openInteraction(env, {}, undefined, xssClient);
    expect(html).toContain(`<strong>${xssNameEscaped}</strong>`);
    expect(html).not.toContain(xssName);
    expect(html).not.toMatch(/<img/i);
  });

  test('client_name <img src=x onerror=alert(1)> is escaped on the consent page', async () => {
    const { html } = await openConsent(env, {}, xssClient);
    expect(html).toContain(`<strong>${xssNameEscaped}</strong> wants to access`);
    expect(html).not.toContain(xssName);
    expect(html).not.toMatch(/<img/i);
  });

  test('client_name <img src=x onerror=alert(1)> is escaped on the logout page', async () => {
    const { ua } = await freshCode(env, {}, xssClient);
    const res = await ua.request(`${env.url}/session/end?client_id=${encodeURIComponent(xssClient.client_id)}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<strong>${xssNameEscaped}</strong>`);
    expect(html).not.toMatch(/<img/i);
  });

  test('markup in client_id on the error page is not reflected raw', async () => {
    const res = await get(authUrl(env, { client_id: '<script>alert(1)</script>' }));
    expect(res.status).toBe(400);
    expect(await res.text()).not.toMatch(/<script/i);
  });
});

describe('CSRF', () => {
  const forbidden = async (res: Response) => {
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      error_description: 'the form expired or did not come from this site; go back and try again',
    });
  };

  test('POST /login without a CSRF token (right password) → 403, not logged in', async () => {
    const page = await openInteraction(env);
    await forbidden(await postInteraction(env, page, 'login', { login: 'alice', password: 'correct horse battery' }, 'application/json'));
    // still on the login page: the interaction did not advance
    const again = await page.ua.request(page.base);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('name="password"');
  });

  test('POST /consent without a CSRF token → 403, no grant, no redirect', async () => {
    const page = await openConsent(env);
    await forbidden(await postInteraction(env, page, 'consent', {}, 'application/json'));
    const again = await page.ua.request(page.base);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('Allow access?');
  });

  test('POST /abort without a CSRF token → 403, the interaction is not aborted', async () => {
    const page = await openInteraction(env);
    await forbidden(await postInteraction(env, page, 'abort', {}, 'application/json'));
    expect((await page.ua.request(page.base)).status).toBe(200);
  });

  test('a CSRF token from another interaction → 403 on /login, /abort', async () => {
    const mine = await openInteraction(env);
    const theirs = await openInteraction(env);
    expect(theirs.csrf).not.toBe(mine.csrf);
    await forbidden(await postInteraction(env, mine, 'login', { csrf: theirs.csrf, login: 'alice', password: 'correct horse battery' }, 'application/json'));
    await forbidden(await postInteraction(env, mine, 'abort', { csrf: theirs.csrf }, 'application/json'));
  });

  test("a CSRF token from another user's consent interaction → 403 on /consent", async () => {
    const mallory = { username: 'mallory', password: 'mallory has a long passphrase', email: 'mallory@example.com', name: 'Mallory' };
    if (!(await env.server.store.accounts.findByLogin('mallory'))) await addUser(env.server.store, mallory);
    const mine = await openConsent(env);
    const theirs = await openConsent(env, {}, undefined, mallory);
    expect(theirs.html).toContain('(mallory)');
    await forbidden(await postInteraction(env, mine, 'consent', { csrf: theirs.csrf }, 'application/json'));
    // and it is the token that is refused: mine with my own token goes through
    expect((await postInteraction(env, mine, 'consent', { csrf: mine.csrf }, 'application/json')).status).toBe(303);
  });

  test('a CSRF-less browser POST gets the 403 HTML error page', async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'login', { login: 'alice', password: 'x' });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('the form expired or did not come from this site');
  });
});

describe('framing, caching and referrer headers', () => {
  const frameProof = (res: Response) => {
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp.split(/;\s*/)).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    return csp;
  };

  test("login page: frame-ancestors 'none', X-Frame-Options DENY, form-action 'self' + client origin, no-store", async () => {
    const { res } = await openInteraction(env);
    const csp = frameProof(res);
    expect(csp.split(/;\s*/)).toContain(`form-action 'self' ${CALLBACK_ORIGIN}`);
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test("consent page: frame-ancestors 'none', X-Frame-Options DENY, form-action 'self' + client origin, no-store", async () => {
    const { res } = await openConsent(env);
    const csp = frameProof(res);
    expect(csp.split(/;\s*/)).toContain(`form-action 'self' ${CALLBACK_ORIGIN}`);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test("provider error page (invalid_redirect_uri): frame-ancestors 'none', X-Frame-Options DENY", async () => {
    const res = await get(authUrl(env, { redirect_uri: 'https://evil.example/cb' }));
    expect(res.status).toBe(400);
    frameProof(res);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test("our own error page (403 CSRF): frame-ancestors 'none', X-Frame-Options DENY, no-store", async () => {
    const page = await openInteraction(env);
    const res = await postInteraction(env, page, 'abort', {});
    expect(res.status).toBe(403);
    frameProof(res);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test("logout page: frame-ancestors 'none', X-Frame-Options DENY, form-action 'self' + post-logout origin", async () => {
    const { ua } = await freshCode(env);
    const url = `${env.url}/session/end?client_id=${encodeURIComponent(env.client.client_id)}&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}`;
    const res = await ua.request(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Sign out?');
    const csp = frameProof(res);
    expect(csp.split(/;\s*/)).toContain(`form-action 'self' ${CALLBACK_ORIGIN}`);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('404 page: framing headers too', async () => {
    const res = await get(`${env.url}/nothing-here`);
    expect(res.status).toBe(404);
    frameProof(res);
  });
});

describe('spoofed Host and X-Forwarded-* headers', () => {
  const endpointsOf = (meta: Record<string, unknown>) =>
    Object.entries(meta)
      .filter(([k, v]) => (k.endsWith('_endpoint') || k === 'jwks_uri') && typeof v === 'string')
      .map(([, v]) => v as string);

  test('proxy off: X-Forwarded-Proto https + X-Forwarded-Host evil.example change nothing in discovery', async () => {
    const res = await rawGet(`${env.url}/.well-known/openid-configuration`, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
    expect(res.status).toBe(200);
    const meta = JSON.parse(res.body) as Record<string, unknown>;
    expect(meta.issuer).toBe(env.url);
    const endpoints = endpointsOf(meta);
    expect(endpoints.length).toBeGreaterThanOrEqual(6);
    for (const e of endpoints) expect(e.startsWith(`${env.url}/`)).toBe(true);
  });

  test('proxy off: X-Forwarded-Host does not leak into the logout form action', async () => {
    const res = await rawGet(
      `${env.url}/session/end?client_id=${encodeURIComponent(env.client.client_id)}&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}`,
      { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
    );
    expect(res.status).toBe(200);
    expect(res.body).toContain(`action="${env.url}/session/end/confirm"`);
    expect(res.body).not.toContain('evil.example');
  });

  test('proxy off: a spoofed Host header does not move discovery endpoints off the issuer', async () => {
    // Either refused, or answered with endpoints under the configured issuer.
    const res = await rawGet(`${env.url}/.well-known/openid-configuration`, { host: 'evil.example' });
    if (res.status !== 200) {
      expect([400, 421]).toContain(res.status);
      return;
    }
    const meta = JSON.parse(res.body) as Record<string, unknown>;
    expect(meta.issuer).toBe(env.url);
    expect(endpointsOf(meta).filter((e) => !e.startsWith(`${env.url}/`))).toEqual([]);
  });

  test('proxy on: X-Forwarded-Proto https is honoured (ctx.secure): endpoints become https, the issuer stays as configured', async () => {
    proxied = await setup({ proxy: true });
    const plain = JSON.parse((await rawGet(`${proxied.url}/.well-known/openid-configuration`, {})).body) as Record<string, unknown>;
    expect(plain.token_endpoint).toBe(`${proxied.url}/token`);
    const res = await rawGet(`${proxied.url}/.well-known/openid-configuration`, { 'x-forwarded-proto': 'https' });
    const meta = JSON.parse(res.body) as Record<string, unknown>;
    expect(meta.issuer).toBe(proxied.url);
    const httpsBase = proxied.url.replace(/^http:/, 'https:');
    expect(meta.token_endpoint).toBe(`${httpsBase}/token`);
    expect(meta.authorization_endpoint).toBe(`${httpsBase}/auth`);
  });

  test('proxy on: X-Forwarded-Host evil.example is still ignored (Host pinned to the issuer); only the scheme follows X-Forwarded-Proto', async () => {
    proxied ??= await setup({ proxy: true });
    const res = await rawGet(`${proxied.url}/.well-known/openid-configuration`, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
    expect(res.status).toBe(200);
    const meta = JSON.parse(res.body) as Record<string, unknown>;
    expect(meta.issuer).toBe(proxied.url);
    const httpsBase = proxied.url.replace(/^http:/, 'https:');
    expect(endpointsOf(meta).filter((e) => !e.startsWith(`${httpsBase}/`))).toEqual([]);
    expect(res.body).not.toContain('evil.example');
  });
});
