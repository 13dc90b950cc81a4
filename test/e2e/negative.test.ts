import * as oidc from 'openid-client';

import { addClient, authorize, discover, loginAndRedeem, startFlowServer } from '../helpers/flow.js';
import type { TestServer } from '../helpers/server.js';
import { csrfFrom, UserAgent } from '../helpers/user-agent.js';

let server: TestServer;
let client: Awaited<ReturnType<typeof addClient>>;
let config: oidc.Configuration;

beforeAll(async () => {
  ({ server, client, config } = await startFlowServer());
});
afterAll(() => server.stop());

/** POSTs to the token endpoint as `client`, returning status and JSON body. */
async function tokenRequest(params: Record<string, string>, auth = { id: client.client_id, secret: client.client_secret }) {
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.id)}:${encodeURIComponent(auth.secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const authUrl = (params: Record<string, string>) => {
  const url = new URL(`${server.url}/auth`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
};

const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('authorization endpoint refusals', () => {
  test('an unregistered redirect_uri gets an error page and no redirect', async () => {
    const res = await fetch(
      authUrl({
        client_id: client.client_id,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: 'https://evil.example/callback',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      { redirect: 'manual', headers: { accept: 'text/html' } },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('invalid_redirect_uri');
    expect(html).not.toMatch(/\bat .*\.js:\d+/);
  });

  test('an unknown client gets an error page and no redirect', async () => {
    const res = await fetch(authUrl({ client_id: 'nope', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:8080/callback' }), {
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('invalid_client');
  });

  test.each([
    ['PKCE missing', { code_challenge: undefined }, 'invalid_request'],
    ['PKCE plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['implicit flow', { response_type: 'token' }, 'unsupported_response_type'],
    ['hybrid flow', { response_type: 'code id_token' }, 'unsupported_response_type'],
  ])('%s is refused back at the client', async (_name, change, error) => {
    const params: Record<string, string> = {
      client_id: client.client_id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://127.0.0.1:8080/callback',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'xyz',
      nonce: 'n',
    };
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete params[k];
      else params[k] = v;
    }
    const res = await fetch(authUrl(params), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('http://127.0.0.1:8080/callback');
    // errors for fragment-default response types come back in the fragment
    const result = params.response_type === 'code' ? location.searchParams : new URLSearchParams(location.hash.slice(1));
    expect(result.get('error')).toBe(error);
    expect(result.get('state')).toBe('xyz');
  });
});

describe('token endpoint refusals', () => {
  test('a code can be redeemed once; replay gets invalid_grant and revokes what it issued', async () => {
    const { callback, verifier } = await authorize(config, server.url);
    const code = callback.searchParams.get('code')!;
    const params = { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:8080/callback', code_verifier: verifier };
    const first = await tokenRequest(params);
    expect(first.status).toBe(200);
    const replay = await tokenRequest(params);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const info = await oidc.tokenIntrospection(config, first.body.access_token as string);
    expect(info.active).toBe(false);
  });

  test('parallel redemptions of one code: exactly one succeeds', async () => {
    const { callback, verifier } = await authorize(config, server.url);
    const params = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: 'http://127.0.0.1:8080/callback',
      code_verifier: verifier,
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => tokenRequest(params)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expect(r.body.error).toBe('invalid_grant');
  });

  test('a wrong PKCE verifier gets invalid_grant', async () => {
    const { callback } = await authorize(config, server.url);
    const res = await tokenRequest({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: 'http://127.0.0.1:8080/callback',
      code_verifier: oidc.randomPKCECodeVerifier(),
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test('a wrong client secret gets 401 invalid_client', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials' }, { id: client.client_id, secret: 'wrong' });
    expect(res).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  test('the password grant does not exist', async () => {
    const res = await tokenRequest({ grant_type: 'password', username: 'alice', password: 'correct horse battery' });
    expect(res).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
  });

  test("another client's token cannot be introspected or revoked", async () => {
    const { tokens } = await loginAndRedeem(config, server.url);
    const other = await addClient(server.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const otherConfig = await discover(server.url, other.client_id, other.client_secret);
    expect((await oidc.tokenIntrospection(otherConfig, tokens.access_token)).active).toBe(false);
    await oidc.tokenRevocation(otherConfig, tokens.access_token).catch(() => undefined);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
  });

  test("a refresh token is bound to its client: another client's use gets invalid_grant", async () => {
    const { tokens } = await loginAndRedeem(config, server.url, { scope: 'openid offline_access', extra: { prompt: 'consent' } });
    const other = await addClient(server.store);
    const res = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { id: other.client_id, secret: other.client_secret });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test('public clients rotate refresh tokens; reusing an old one revokes the grant', async () => {
    const pub = await addClient(server.store, { token_endpoint_auth_method: 'none', client_secret: undefined });
    const pubConfig = await discover(server.url, pub.client_id);
    const { tokens } = await loginAndRedeem(pubConfig, server.url, { scope: 'openid offline_access', extra: { prompt: 'consent' } });
    const first = await oidc.refreshTokenGrant(pubConfig, tokens.refresh_token!);
    expect(first.refresh_token).toBeTruthy();
    expect(first.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oidc.refreshTokenGrant(pubConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // the reuse revoked the whole grant, so the newest refresh token is dead too
    await expect(oidc.refreshTokenGrant(pubConfig, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('login page', () => {
  async function loginPage() {
    const ua = new UserAgent();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:8080/callback',
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const step = await ua.follow(url, server.url);
    const html = await step.page!.text();
    return { ua, action: new URL(`${step.url.pathname}/login`, server.url), csrf: csrfFrom(html) };
  }

  test('unknown user and wrong password read exactly the same', async () => {
    const a = await loginPage();
    const wrongPassword = await a.ua.postForm(a.action, { csrf: a.csrf, login: 'alice', password: 'not the password' });
    const b = await loginPage();
    const unknownUser = await b.ua.postForm(b.action, { csrf: b.csrf, login: 'mallory', password: 'not the password' });
    expect(wrongPassword.status).toBe(unknownUser.status);
    const message = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];
    const [m1, m2] = [message(await wrongPassword.text()), message(await unknownUser.text())];
    expect(m1).toBe('The username or password is incorrect.');
    expect(m2).toBe(m1);
  });

  test('a login POST without the CSRF token is refused', async () => {
    const { ua, action } = await loginPage();
    const res = await ua.postForm(action, { login: 'alice', password: 'correct horse battery' });
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
  });

  test('a login POST with a forged CSRF token is refused', async () => {
    const { ua, action } = await loginPage();
    const res = await ua.postForm(action, { csrf: 'A'.repeat(43), login: 'alice', password: 'correct horse battery' });
    expect(res.status).toBe(403);
  });

  test('array and object values are refused with 400, not 500', async () => {
    const { ua, action, csrf } = await loginPage();
    const res = await ua.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: `csrf=${csrf}&login[$ne]=x&password=y`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  test('an interaction without its cookie gets an error page, not a 500', async () => {
    const { action, csrf } = await loginPage();
    const res = await fetch(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf, login: 'alice', password: 'x' }).toString(),
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('session');
  });
});
