/**
 * Attacks on dynamic client registration (RFC 7591) and its management (RFC 7592): a registering
 * client granting itself what only the operator grants, registering what the client policy
 * refuses, making the server fetch what it should not, and one client's registration access
 * token used on another client. The server runs with an https issuer (production rules) and
 * open registration, the widest exposure.
 */
import type { AddressInfo } from 'node:net';

import { addClient } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const REDIRECT_URI = 'https://app.example.com/callback';
const webApp = { client_name: 'Attacker app', redirect_uris: [REDIRECT_URI] };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ issuer: 'https://idp.example.test', registration: { mode: 'open', requestsPerIpPerMinute: 10_000 } });
  await server.store.apis.upsert({ audience: 'https://api.example.com', name: 'API', scopes: ['read:things', 'admin'], tokenFormat: 'jwt', accessTokenTtl: null });
});
afterAll(() => server.stop());

/** The issuer is https://idp.example.test; requests go to the listener (the Host is pinned to the issuer's). */
const base = () => `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

async function call(method: string, path: string, body?: Record<string, unknown>, token?: string) {
  const res = await fetch(`${base()}${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const register = (body: Record<string, unknown>) => call('POST', '/reg', body);
const pathOf = (uri: unknown) => new URL(uri as string).pathname;

async function registered(extra: Record<string, unknown> = {}) {
  const res = await register({ ...webApp, ...extra });
  expect(res.status).toBe(201);
  return { id: res.body.client_id as string, rat: res.body.registration_access_token as string, path: pathOf(res.body.registration_client_uri), body: res.body };
}

describe('a registering client cannot grant itself what only the operator grants, or what the policy refuses', () => {
  test.each([
    ['first_party (skips consent)', { first_party: true }, 'invalid_client_metadata', /first_party is granted by the operator only/],
    ['api_scopes', { api_scopes: ['read:things'] }, 'invalid_client_metadata', /api_scopes is granted by the operator only/],
    ['introspect_for (read everyone\'s tokens)', { introspect_for: ['https://api.example.com'] }, 'invalid_client_metadata', /introspect_for/],
    ['default_audience', { default_audience: 'https://api.example.com' }, 'invalid_client_metadata', /default_audience/],
    ['require_mfa', { require_mfa: false }, 'invalid_client_metadata', /require_mfa/],
    ['web_origins (CORS)', { web_origins: ['https://evil.example'] }, 'invalid_client_metadata', /web_origins/],
    ['an API scope in scope', { scope: 'openid read:things' }, 'invalid_client_metadata', /scope may only hold OpenID scopes/],
    ['plain http to a non-loopback host (https issuer)', { redirect_uris: ['http://app.example.com/callback'] }, 'invalid_redirect_uri', /must use https/],
    ['a redirect URI with a fragment', { redirect_uris: [`${REDIRECT_URI}#x`] }, 'invalid_redirect_uri', /fragment/],
    ['a custom scheme', { redirect_uris: ['com.example.app:/callback'] }, 'invalid_redirect_uri', /http\(s\) URI/],
    ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri', /forbidden scheme/],
    ['credentials in a post-logout URI', { post_logout_redirect_uris: ['https://u:p@app.example.com/bye'] }, 'invalid_client_metadata', /credentials/],
    ['the implicit grant', { grant_types: ['authorization_code', 'implicit'], response_types: ['code', 'id_token'] }, 'invalid_client_metadata', /implicit is not supported/],
    ['the password grant', { grant_types: ['password'] }, 'invalid_client_metadata', /password is not supported/],
    ['token exchange', { grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'], response_types: [], redirect_uris: [] }, 'invalid_client_metadata', /token-exchange grant is granted by the operator only/],
    ['allow_impersonation (token exchange without act)', { allow_impersonation: true }, 'invalid_client_metadata', /allow_impersonation is granted by the operator only/],
    ['a public client with client_credentials', { token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }, 'invalid_client_metadata', /cannot use client_credentials/],
    ['a public client without PKCE', { token_endpoint_auth_method: 'none', require_pkce: false }, 'invalid_client_metadata', /must use PKCE/],
    ['unsigned ID tokens', { id_token_signed_response_alg: 'none' }, 'invalid_client_metadata', /id_token_signed_response_alg/],
    ['a plain-http jwks_uri (the server would fetch it)', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://169.254.169.254/latest/meta-data' }, 'invalid_client_metadata', /jwks_uri must be an https URI/],
    ['a sector_identifier_uri (the server would fetch it)', { sector_identifier_uri: 'https://internal.example/sector' }, 'invalid_client_metadata', /sector_identifier_uri is not supported/],
    ['private_key_jwt without keys', { token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', /jwks/],
  ])('%s: refused, nothing stored', async (_name, change, error, description) => {
    const before = await server.store.clients.list();
    const res = await register({ ...webApp, ...change });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(String(res.body.error_description)).toMatch(description);
    expect(await server.store.clients.list()).toEqual(before);
  });

  test('what the server decides, the client cannot: its id, its secret, its origin', async () => {
    const res = await register({ ...webApp, client_id: 'chosen-id', client_secret: 'chosen-secret-chosen-secret-chosen-secret', idport_origin: 'cli' });
    expect(res.status).toBe(201);
    expect(res.body.client_id).not.toBe('chosen-id');
    expect(res.body.client_secret).not.toBe('chosen-secret-chosen-secret-chosen-secret');
    expect(await server.store.clients.find('chosen-id')).toBeUndefined();
    expect(await server.store.clients.find(res.body.client_id as string)).toMatchObject({ idport_origin: 'registration' });
  });

  test('a registered client gets no token for an API', async () => {
    const { id, body } = await registered({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const res = await fetch(`${base()}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${id}:${String(body.client_secret)}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.example.com', scope: 'read:things' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^invalid_(target|scope)$/);
  });
});

describe('registration access tokens manage their own client only', () => {
  test("client A's token cannot read, update or delete client B (and is revoked for trying)", async () => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const a = await registered({ client_name: 'A' });
      const b = await registered({ client_name: 'B' });
      const res = await call(method, b.path, method === 'PUT' ? { ...webApp, client_id: b.id, client_name: 'hijacked' } : undefined, a.rat);
      expect({ method, status: res.status, error: res.body.error }).toEqual({ method, status: 401, error: 'invalid_token' });
      expect(await server.store.clients.find(b.id)).toMatchObject({ client_name: 'B' });
      // oidc-provider revokes a token presented for another client
      expect((await call('GET', a.path, undefined, a.rat)).status).toBe(401);
      expect((await call('GET', b.path, undefined, b.rat)).status).toBe(200);
    }
  });

  test('no registration access token manages a client the CLI made', async () => {
    const cliClient = await addClient(server.store, { client_name: 'Operator app', first_party: true, redirect_uris: [REDIRECT_URI] });
    const a = await registered();
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const res = await call(method, `/reg/${cliClient.client_id}`, method === 'PUT' ? { ...webApp, client_id: cliClient.client_id } : undefined, a.rat);
      expect({ method, status: res.status }).toEqual({ method, status: 401 });
      const none = await call(method, `/reg/${cliClient.client_id}`, method === 'PUT' ? { ...webApp, client_id: cliClient.client_id } : undefined);
      expect({ method, status: none.status }).toEqual({ method, status: 401 });
    }
    expect(await server.store.clients.find(cliClient.client_id)).toMatchObject({ client_name: 'Operator app', first_party: true });
  });

  test('an update cannot add operator-only properties, API scopes or refused grants; the stored client stays as it was', async () => {
    const a = await registered({ client_name: 'Escalator' });
    const current = { ...webApp, client_id: a.id, client_name: 'Escalator' };
    const stored = await server.store.clients.find(a.id);
    let rat = a.rat;
    for (const change of [
      { first_party: true },
      { api_scopes: ['admin'] },
      { introspect_for: ['https://api.example.com'] },
      { scope: 'openid admin' },
      { web_origins: ['https://evil.example'] },
      { redirect_uris: ['http://evil.example/cb'] },
      { token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    ]) {
      const res = await call('PUT', a.path, { ...current, ...change }, rat);
      expect({ change, status: res.status }).toEqual({ change, status: 400 });
      expect(String(res.body.error)).toMatch(/^invalid_(client_metadata|redirect_uri)$/);
      expect(await server.store.clients.find(a.id)).toEqual(stored);
      // a refused update leaves the token as it was
      expect((await call('GET', a.path, undefined, rat)).status).toBe(200);
    }
    const ok = await call('PUT', a.path, { ...current, client_name: 'Renamed' }, rat);
    expect(ok.status).toBe(200);
    rat = ok.body.registration_access_token as string;
    expect(await server.store.clients.find(a.id)).toMatchObject({ client_name: 'Renamed', idport_origin: 'registration' });
  });

  test('what the operator set on a registered client survives the client\'s updates, and the client cannot change it', async () => {
    const a = await registered({ client_name: 'Guarded' });
    // the operator: `idport clients update ID --require-mfa`
    await server.store.clients.upsert({ ...(await server.store.clients.find(a.id))!, require_mfa: true });
    const read = await call('GET', a.path, undefined, a.rat);
    expect(read.body.require_mfa).toBe(true);
    const current = { ...webApp, client_id: a.id, client_name: 'Guarded' };

    const lower = await call('PUT', a.path, { ...current, require_mfa: false }, a.rat);
    expect({ status: lower.status, error: lower.body.error }).toEqual({ status: 400, error: 'invalid_client_metadata' });

    // repeating it unchanged, or leaving it out, keeps it
    const same = await call('PUT', a.path, { ...current, require_mfa: true, client_name: 'Guarded 2' }, a.rat);
    expect(same.status).toBe(200);
    const omitted = await call('PUT', a.path, { ...current, client_name: 'Guarded 3' }, same.body.registration_access_token as string);
    expect(omitted.status).toBe(200);
    expect(await server.store.clients.find(a.id)).toMatchObject({ client_name: 'Guarded 3', require_mfa: true });
  });
});

describe('errors are RFC 7591-shaped, never 500', () => {
  test.each([
    ['not JSON', 'not json', 'invalid_request'],
    ['a JSON array', '[]', 'invalid_request'],
    ['redirect_uris not a list', JSON.stringify({ redirect_uris: 'https://app.example.com/cb' }), 'invalid_redirect_uri'],
    ['a number for client_name', JSON.stringify({ ...webApp, client_name: 5 }), 'invalid_client_metadata'],
    ['an enormous field', JSON.stringify({ ...webApp, client_name: 'x'.repeat(100_000) }), undefined],
  ])('%s', async (_name, body, error) => {
    const res = await fetch(`${base()}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const out = (await res.json()) as { error: string };
    if (error) expect(out.error).toBe(error);
  });
});
