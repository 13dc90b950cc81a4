/**
 * The admin API over real HTTP, called with real idport access tokens (client_credentials for
 * {issuer}/admin): users, APIs and keys; scopes, audiences, expiry, DPoP, If-Match, Idempotency-Key,
 * problem details; and a user made through it signing in at once, on this node and another.
 */
import { decodeJwt, SignJWT, importJWK, type JWK } from 'jose';
import * as oidc from 'openid-client';

import { adminCall, adminClient as newAdminClient, adminToken as newAdminToken, expectProblem } from '../helpers/admin-api.js';
import { cli } from '../helpers/cli.js';
import { addClient, addUser, discover, loginAndRedeem } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { UserAgent } from '../helpers/user-agent.js';

let server: TestServer;
let issuer: string;
let adminAudience: string;

const adminClient = (scopes: string[], extra: Record<string, unknown> = {}) => newAdminClient(server.store, issuer, scopes, extra);
const adminToken = async (scopes: string[], scope = scopes.join(' ')) => (await newAdminToken(server.store, issuer, scopes, scope)).token;
const call = (token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => adminCall(issuer, token, method, path, body, headers);

/** A token signed with idport's own ES256 key but with claims of the test's choosing. */
async function forge(claims: Record<string, unknown>) {
  const key = (await server.store.keys.list('signing')).find((k) => k.retiredAt === null && k.material.alg === 'ES256')!;
  const jwk = key.material as JWK;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
    .sign(await importJWK(jwk, 'ES256'));
}

beforeAll(async () => {
  server = await startTestServer();
  issuer = server.url;
  adminAudience = `${issuer}/admin`;
  await addUser(server.store);
});
afterAll(() => server.stop());

describe('tokens for the admin API', () => {
  test('a client_credentials token for {issuer}/admin is an RFC 9068 JWT with the admin scopes asked for', async () => {
    const token = await adminToken(['admin:users:read', 'admin:users:write']);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ aud: adminAudience, iss: issuer, scope: 'admin:users:read admin:users:write' });
    expect(claims.sub).toBe(claims.client_id);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300);
  });

  test('no token → 401 with a Bearer challenge and no error code; garbage → 401 invalid_token', async () => {
    const none = await call(undefined, 'GET', '/users');
    expectProblem(none, 401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="idport-admin"/);
    expect(none.headers.get('www-authenticate')).not.toMatch(/error=/);
    const garbage = await call('not-a-token', 'GET', '/users');
    expectProblem(garbage, 401);
    expect(garbage.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  test('a token for another API is refused (401 invalid_token), even with admin-looking scopes', async () => {
    await server.store.apis.upsert({ audience: 'https://api.example.com', name: null, scopes: ['admin:users:read'], tokenFormat: 'jwt', accessTokenTtl: null });
    const { config } = await adminClient(['admin:users:read']);
    const other = await oidc.clientCredentialsGrant(config, { resource: 'https://api.example.com', scope: 'admin:users:read' });
    expect(decodeJwt(other.access_token).aud).toBe('https://api.example.com');
    const answer = await call(other.access_token, 'GET', '/users');
    expectProblem(answer, 401);
    expect(answer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  test('an expired token, and a token whose subject is a user, are refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: issuer, aud: adminAudience, client_id: 'c1', sub: 'c1', scope: 'admin:users:read', jti: 'j1' };
    const expired = await call(await forge({ ...base, iat: now - 700, exp: now - 400 }), 'GET', '/users');
    expectProblem(expired, 401);
    expect(expired.body.detail).toMatch(/expired/);
    const user = await call(await forge({ ...base, sub: 'some-user', iat: now, exp: now + 60 }), 'GET', '/users');
    expectProblem(user, 401);
    expect(user.body.detail).toMatch(/clients/);
    // the same claims with a client subject pass: what was refused was the subject
    expect((await call(await forge({ ...base, iat: now, exp: now + 60 }), 'GET', '/users')).status).toBe(200);
  });

  test('a token signed by a key idport does not hold is refused', async () => {
    const { generateKeyPair } = await import('jose');
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ iss: issuer, aud: adminAudience, client_id: 'c1', sub: 'c1', scope: 'admin:users:write', iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: (await server.store.keys.list('signing'))[0]!.kid })
      .sign(privateKey);
    expectProblem(await call(token, 'GET', '/users'), 401);
  });

  test('the wrong scope → 403 insufficient_scope naming the scope needed', async () => {
    const token = await adminToken(['admin:users:read']);
    const answer = await call(token, 'POST', '/users', { username: 'mallory', password: 'a long passphrase 1' });
    expectProblem(answer, 403);
    expect(answer.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expect(answer.headers.get('www-authenticate')).toMatch(/scope="admin:users:write"/);
    expect(await server.store.accounts.findByLogin('mallory')).toBeUndefined();
  });

  test('a user signing in to a client that holds admin scopes never gets an admin token', async () => {
    const client = await addClient(server.store, { grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], api_scopes: ['admin:users:write'] });
    const config = await discover(issuer, client.client_id, client.client_secret);
    await expect(loginAndRedeem(config, issuer, { scope: 'openid admin:users:write', extra: { resource: adminAudience } })).rejects.toMatchObject({
      error: 'invalid_target',
      error_description: expect.stringMatching(/client_credentials/),
    });
  });

  test('a client with no admin scope gets no admin token', async () => {
    const { config } = await adminClient([]);
    await expect(oidc.clientCredentialsGrant(config, { resource: adminAudience, scope: 'admin:users:read' })).rejects.toThrow();
  });
});

describe('a client made by the CLI for the admin API', () => {
  test('clients add --admin-scope users:read gives admin:users:read, and its token works at once; a bad or user-facing one is refused', async () => {
    const databaseUrl = `sqlite:${server.dir}/idport.db`;
    const made = await cli(databaseUrl, ['clients', 'add', '--name', 'ci', '--grant-type', 'client_credentials', '--admin-scope', 'users:read', '--json']);
    expect(made.code).toBe(0);
    const client = JSON.parse(made.stdout) as { client_id: string; client_secret: string; api_scopes: string[] };
    expect(client.api_scopes).toEqual(['admin:users:read']);
    const config = await discover(issuer, client.client_id, client.client_secret);
    const { access_token } = await oidc.clientCredentialsGrant(config, { resource: adminAudience, scope: 'admin:users:read' });
    expect((await call(access_token, 'GET', '/users')).status).toBe(200);
    const bad = await cli(databaseUrl, ['clients', 'add', '--name', 'x', '--grant-type', 'client_credentials', '--admin-scope', 'users:everything']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not an admin scope/);
    const interactive = await cli(databaseUrl, ['clients', 'add', '--name', 'x', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--admin-scope', 'users:read']);
    expect(interactive.code).toBe(2);
    expect(interactive.stderr).toMatch(/needs --grant-type client_credentials/);
  });
});

describe('users', () => {
  let token: string;
  beforeAll(async () => {
    token = await adminToken(['admin:users:read', 'admin:users:write']);
  });

  test('create, read, list by pages, update with If-Match, set password, remove', async () => {
    const created = await call(token, 'POST', '/users', { username: 'bob', password: 'bob has a long passphrase', email: 'bob@example.com', name: 'Bob', email_verified: true });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'bob', email: 'bob@example.com', name: 'Bob', email_verified: true, has_password: true });
    expect(created.body).not.toHaveProperty('password');
    expect(created.body).not.toHaveProperty('passwordHash');
    const sub = created.body.sub as string;
    expect(created.headers.get('location')).toBe(`/admin/v1/users/${sub}`);

    const read = await call(token, 'GET', `/users/${sub}`);
    expect(read.status).toBe(200);
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);

    await call(token, 'POST', '/users', { username: 'carol', password: 'carol has a long passphrase' });
    const page1 = await call(token, 'GET', '/users?limit=2');
    expect(page1.body.items.map((u: { username: string }) => u.username)).toEqual(['alice', 'bob']);
    const page2 = await call(token, 'GET', `/users?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body.items.map((u: { username: string }) => u.username)).toEqual(['carol']);
    expect(page2.body.next_cursor).toBeNull();
    expect((await call(token, 'GET', '/users?q=CAR')).body.items).toHaveLength(1);
    expectProblem(await call(token, 'GET', '/users?cursor=%%%'), 400);

    const updated = await call(token, 'PATCH', `/users/${sub}`, { name: 'Bob Builder', claims: { given_name: 'Bob' } }, { 'if-match': etag });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'Bob Builder', claims: { given_name: 'Bob' } });
    expect(updated.headers.get('etag')).not.toBe(etag);
    // a second admin still holding the old ETag cannot overwrite the change
    const stale = await call(token, 'PATCH', `/users/${sub}`, { name: 'Robert' }, { 'if-match': etag });
    expectProblem(stale, 412);
    expect((await server.store.accounts.findById(sub))?.name).toBe('Bob Builder');

    const password = await call(token, 'PUT', `/users/${sub}/password`, { password: 'bob has a brand new passphrase' });
    expect(password.status).toBe(200);
    expect(password.body).toEqual({ sessions_ended: 0, grants_revoked: 0 });

    // the password change changed the user (updated_at): the ETag read before it no longer matches
    expectProblem(await call(token, 'DELETE', `/users/${sub}`, undefined, { 'if-match': updated.headers.get('etag')! }), 412);
    const current = (await call(token, 'GET', `/users/${sub}`)).headers.get('etag')!;
    const removed = await call(token, 'DELETE', `/users/${sub}`, undefined, { 'if-match': current });
    expect(removed.status).toBe(204);
    expectProblem(await call(token, 'GET', `/users/${sub}`), 404);
  });

  test('admins who read the same version and change it at once: exactly one change applies, the others get 412', async () => {
    const created = await call(token, 'POST', '/users', { username: 'racer', password: 'racer has a long passphrase' });
    const sub = created.body.sub as string;
    const etag = (await call(token, 'GET', `/users/${sub}`)).headers.get('etag')!;
    const names = Array.from({ length: 8 }, (_, i) => `Racer ${i}`);
    const answers = await Promise.all(names.map((name) => call(token, 'PATCH', `/users/${sub}`, { name }, { 'if-match': etag })));
    const applied = answers.filter((a) => a.status === 200);
    expect(applied).toHaveLength(1);
    for (const lost of answers.filter((a) => a.status !== 200)) expectProblem(lost, 412);
    expect((await server.store.accounts.findById(sub))?.name).toBe(applied[0]!.body.name);

    // the same for a client, and for a removal racing an update
    const clientsToken = await adminToken(['admin:clients:read', 'admin:clients:write']);
    const client = await call(clientsToken, 'POST', '/clients', { client_name: 'racing app', grant_types: ['client_credentials'], redirect_uris: [] });
    const id = client.body.client_id as string;
    expect(client.status).toBe(201);
    const clientTag = (await call(clientsToken, 'GET', `/clients/${id}`)).headers.get('etag')!;
    const [renamed, removed] = await Promise.all([
      call(clientsToken, 'PATCH', `/clients/${id}`, { client_name: 'renamed' }, { 'if-match': clientTag }),
      call(clientsToken, 'DELETE', `/clients/${id}`, undefined, { 'if-match': clientTag }),
    ]);
    // one of the two applies; the other finds a changed client (412) or none left (404)
    if (renamed.status === 200) expectProblem(removed, 412);
    else {
      expect(removed.status).toBe(204);
      expect([404, 412]).toContain(renamed.status);
    }
  });

  test('bad input gets 400 problems naming the field; a taken username 409; never a 500', async () => {
    const missing = await call(token, 'POST', '/users', { password: 'a long passphrase 1' });
    expectProblem(missing, 400);
    expect(missing.body.errors).toEqual([expect.objectContaining({ path: 'body.username' })]);
    const extra = await call(token, 'POST', '/users', { username: 'dave', password: 'a long passphrase 1', first_party: true });
    expectProblem(extra, 400);
    expectProblem(await call(token, 'POST', '/users', { username: 'dave', password: 'short' }), 400);
    expectProblem(await call(token, 'POST', '/users', { username: 'dave', password: 'a long passphrase 1', claims: { email_verified: true } }), 400);
    expectProblem(await call(token, 'POST', '/users', { username: 'ALICE', password: 'a long passphrase 1' }), 409);
    const notJson = await fetch(`${issuer}/admin/v1/users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'username=x' });
    expect(notJson.status).toBe(415);
    const broken = await fetch(`${issuer}/admin/v1/users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"username":' });
    expect(broken.status).toBe(400);
    expectProblem(await call(token, 'GET', '/nothing-here'), 404);
    expectProblem(await call(token, 'PATCH', '/users'), 405);
  });

  test('Idempotency-Key: parallel creates with one key make one user; the same key with another body is refused', async () => {
    const body = { username: 'erin', password: 'erin has a long passphrase' };
    const answers = await Promise.all(Array.from({ length: 5 }, () => call(token, 'POST', '/users', body, { 'idempotency-key': 'create-erin-1' })));
    const created = answers.filter((a) => a.status === 201);
    // every answer is the first one's, or "still being processed"; never a second user
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const a of answers) expect([201, 409]).toContain(a.status);
    expect(new Set(created.map((a) => a.body.sub)).size).toBe(1);
    expect((await server.store.accounts.list()).filter((a) => a.username === 'erin')).toHaveLength(1);
    const again = await call(token, 'POST', '/users', body, { 'idempotency-key': 'create-erin-1' });
    expect(again.status).toBe(201);
    expect(again.body.sub).toBe(created[0]!.body.sub);
    expectProblem(await call(token, 'POST', '/users', { ...body, username: 'erin2' }, { 'idempotency-key': 'create-erin-1' }), 422);
    // keys are per client: another client's same key is another request
    const other = await adminToken(['admin:users:write']);
    expect((await call(other, 'POST', '/users', { username: 'frank', password: 'frank has a long passphrase' }, { 'idempotency-key': 'create-erin-1' })).status).toBe(201);
  });

  test('a user created through the API signs in at once, on this node and on a second node of the same store', async () => {
    const created = await call(token, 'POST', '/users', { username: 'grace', password: 'grace has a long passphrase', email: 'grace@example.com' });
    expect(created.status).toBe(201);
    const client = await addClient(server.store);
    const config = await discover(issuer, client.client_id, client.client_secret);
    const { tokens } = await loginAndRedeem(config, issuer, { user: { username: 'grace', password: 'grace has a long passphrase' } });
    expect(tokens.claims()!.sub).toBe(created.body.sub);

    const second = await startTestServer({}, server.dir);
    try {
      const config2 = await discover(second.url, client.client_id, client.client_secret);
      const again = await loginAndRedeem(config2, second.url, { user: { username: 'grace', password: 'grace has a long passphrase' } });
      expect(again.tokens.claims()!.sub).toBe(created.body.sub);
    } finally {
      await second.close();
    }
  });
});

describe('clients', () => {
  const machine = { client_name: 'billing job', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' };

  async function tokenFor(clientId: string, clientSecret: string, at = issuer) {
    const res = await fetch(`${at}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  test('create (secret shown once), read and list without secrets, update with If-Match, rotate the secret, remove; each takes effect at once, on another node too', async () => {
    const token = await adminToken(['admin:clients:read', 'admin:clients:write']);
    const created = await call(token, 'POST', '/clients', machine);
    expect(created.status).toBe(201);
    const { client_id: id, client_secret: secret } = created.body as { client_id: string; client_secret: string };
    expect(secret.length).toBeGreaterThanOrEqual(43);
    expect((await tokenFor(id, secret)).status).toBe(200);

    const read = await call(token, 'GET', `/clients/${id}`);
    expect(read.body).toMatchObject({ client_id: id, client_name: 'billing job', has_secret: true, public: false });
    expect(JSON.stringify(read.body)).not.toContain(secret);
    expect(JSON.stringify((await call(token, 'GET', '/clients?limit=200')).body)).not.toContain(secret);

    const changed = await call(token, 'PATCH', `/clients/${id}`, { client_name: 'billing job v2' }, { 'if-match': read.headers.get('etag')! });
    expect(changed.status).toBe(200);
    expect(changed.body.client_name).toBe('billing job v2');
    expectProblem(await call(token, 'PATCH', `/clients/${id}`, { client_name: 'lost update' }, { 'if-match': read.headers.get('etag')! }), 412);

    const rotated = await call(token, 'POST', `/clients/${id}/secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.client_secret).not.toBe(secret);
    expect((await tokenFor(id, secret)).status).toBe(401);
    expect((await tokenFor(id, rotated.body.client_secret)).status).toBe(200);
    const second = await startTestServer({}, server.dir);
    try {
      expect((await tokenFor(id, rotated.body.client_secret, second.url)).status).toBe(200);
      expect((await tokenFor(id, secret, second.url)).status).toBe(401);
    } finally {
      await second.close();
    }

    expect((await call(token, 'DELETE', `/clients/${id}`)).status).toBe(204);
    expect((await tokenFor(id, rotated.body.client_secret)).status).toBe(401);
    expectProblem(await call(token, 'GET', `/clients/${id}`), 404);
  });

  test('the client policy applies: bad redirect URIs, grant mixes and unknown APIs are 400 problems, nothing stored', async () => {
    const token = await adminToken(['admin:clients:read', 'admin:clients:write']);
    const before = (await server.store.clients.list()).length;
    expectProblem(await call(token, 'POST', '/clients', { client_name: 'web', redirect_uris: ['https://app.example.com/cb#frag'] }), 400);
    expectProblem(await call(token, 'POST', '/clients', { client_name: 'web', grant_types: ['authorization_code'] }), 400);
    expectProblem(await call(token, 'POST', '/clients', { ...machine, token_endpoint_auth_method: 'none' }), 400);
    expectProblem(await call(token, 'POST', '/clients', { ...machine, default_audience: 'https://unknown.example.com' }), 400);
    expectProblem(await call(token, 'POST', '/clients', { ...machine, client_secret: 'chosen-by-caller' }), 400);
    expect((await server.store.clients.list()).length).toBe(before);
  });

  test('a caller can give a client only the admin scopes it holds itself (no escalation through clients:write)', async () => {
    const writer = await adminToken(['admin:clients:write']);
    const escalate = await call(writer, 'POST', '/clients', { ...machine, api_scopes: ['admin:users:write'] });
    expectProblem(escalate, 403);
    expect(escalate.body.detail).toMatch(/admin:users:write/);
    const created = await call(writer, 'POST', '/clients', machine);
    expectProblem(await call(writer, 'PATCH', `/clients/${created.body.client_id}`, { api_scopes: ['admin:keys:write'] }), 403);
    const holder = await adminToken(['admin:clients:write', 'admin:users:read']);
    const ok = await call(holder, 'POST', '/clients', { ...machine, api_scopes: ['admin:users:read'] });
    expect(ok.status).toBe(201);
    const { config } = { config: await discover(issuer, ok.body.client_id, ok.body.client_secret) };
    const delegated = await oidc.clientCredentialsGrant(config, { resource: adminAudience, scope: 'admin:users:read' });
    expect(decodeJwt(delegated.access_token).scope).toBe('admin:users:read');
  });

  test('an Idempotency-Key repeat of a create gets the client but never the secret again', async () => {
    const token = await adminToken(['admin:clients:write']);
    const first = await call(token, 'POST', '/clients', { ...machine, client_name: 'once' }, { 'idempotency-key': 'client-once' });
    const again = await call(token, 'POST', '/clients', { ...machine, client_name: 'once' }, { 'idempotency-key': 'client-once' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.client_id).toBe(first.body.client_id);
    expect(first.body.client_secret).toEqual(expect.any(String));
    expect(again.body).not.toHaveProperty('client_secret');
    expect(again.body.client_secret_note).toMatch(/rotate/);
    expect((await server.store.clients.list()).filter((c) => c.client_name === 'once')).toHaveLength(1);
  });
});

describe('upstreams and registration tokens', () => {
  test('upstreams: add (the secret write-only), read, update with If-Match, remove; the login page offers it at once', async () => {
    const token = await adminToken(['admin:upstreams:read', 'admin:upstreams:write']);
    const added = await call(token, 'POST', '/upstreams', { name: 'Acme SSO', issuer: 'https://sso.acme.example', client_id: 'idport-at-acme', client_secret: 'acme-secret-value-123' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ id: 'acme-sso', preset: 'oidc', client_id: 'idport-at-acme', redirect_path: '/upstream/acme-sso/callback' });
    expect(JSON.stringify(added.body)).not.toContain('acme-secret-value-123');
    const client = await addClient(server.store);
    const config = await discover(issuer, client.client_id, client.client_secret);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:8080/callback', scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const loginPage = await new UserAgent().follow(url, issuer);
    expect(await loginPage.page!.text()).toContain('Acme SSO');
    const read = await call(token, 'GET', '/upstreams/acme-sso');
    const changed = await call(token, 'PATCH', '/upstreams/acme-sso', { button_label: 'Continue with Acme' }, { 'if-match': read.headers.get('etag')! });
    expect(changed.status).toBe(200);
    expect(changed.body.button_label).toBe('Continue with Acme');
    expectProblem(await call(token, 'PATCH', '/upstreams/acme-sso', { jit: false }, { 'if-match': read.headers.get('etag')! }), 412);
    expectProblem(await call(token, 'POST', '/upstreams', { name: 'Bad', issuer: 'not a url', client_id: 'x', client_secret: 'y' }), 400);
    expectProblem(await call(token, 'POST', '/upstreams', { name: 'Acme SSO', issuer: 'https://sso.acme.example', client_id: 'x', client_secret: 'y' }), 400);
    expect((await call(token, 'GET', '/upstreams')).body.items.map((u: { id: string }) => u.id)).toEqual(['acme-sso']);
    expect((await call(token, 'DELETE', '/upstreams/acme-sso')).status).toBe(204);
    expect(await server.store.upstreams.find('acme-sso')).toBeUndefined();
  });

  test('registration tokens: minted through the API, they register a client at /reg; list, revoke; a repeat never shows the value again', async () => {
    const reg = await startTestServer({ registration: { mode: 'initial-access-token' } });
    try {
      const { config } = await (async () => {
        const client = await addClient(reg.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], post_logout_redirect_uris: [], api_scopes: ['admin:registration:read', 'admin:registration:write'] });
        return { config: await discover(reg.url, client.client_id, client.client_secret) };
      })();
      const { access_token: token } = await oidc.clientCredentialsGrant(config, { resource: `${reg.url}/admin`, scope: 'admin:registration:read admin:registration:write' });
      const at = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
        fetch(`${reg.url}/admin/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers }, ...(body ? { body: JSON.stringify(body) } : {}) });
      const minted = await at('POST', '/registration-tokens', { uses: 1, ttl_seconds: 600 }, { 'idempotency-key': 'iat-1' });
      expect(minted.status).toBe(201);
      const record = (await minted.json()) as { id: string; token: string; uses: number };
      expect(record.token).toMatch(/^idport_iat_/);
      const repeat = (await (await at('POST', '/registration-tokens', { uses: 1, ttl_seconds: 600 }, { 'idempotency-key': 'iat-1' })).json()) as Record<string, unknown>;
      expect(repeat.id).toBe(record.id);
      expect(repeat).not.toHaveProperty('token');

      const register = (iat: string) =>
        fetch(`${reg.url}/reg`, { method: 'POST', headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:8080/callback'] }) });
      expect((await register(record.token)).status).toBe(201);
      expect((await register(record.token)).status).toBe(401);
      const listed = (await (await at('GET', '/registration-tokens')).json()) as { items: { id: string; used: number }[] };
      expect(listed.items).toEqual([expect.objectContaining({ id: record.id, used: 1 })]);
      expect(JSON.stringify(listed)).not.toContain(record.token);
      expect((await at('DELETE', `/registration-tokens/${record.id}`)).status).toBe(204);
      expect((await at('DELETE', `/registration-tokens/${record.id}`)).status).toBe(404);
    } finally {
      await reg.stop();
    }
  });
});

describe('APIs and keys', () => {
  test('register, read, list and remove an API; the admin API itself cannot be registered or removed', async () => {
    const token = await adminToken(['admin:apis:read', 'admin:apis:write']);
    const created = await call(token, 'POST', '/apis', { audience: 'https://orders.example.com', scopes: ['orders:read'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ audience: 'https://orders.example.com', scopes: ['orders:read'], token_format: 'jwt' });
    const path = `/apis/${encodeURIComponent('https://orders.example.com')}`;
    expect((await call(token, 'GET', path)).body.scopes).toEqual(['orders:read']);
    expect((await call(token, 'GET', '/apis')).body.items.map((a: { audience: string }) => a.audience)).toContain('https://orders.example.com');
    expectProblem(await call(token, 'POST', '/apis', { audience: 'https://orders.example.com', scopes: ['openid'] }), 400);
    expectProblem(await call(token, 'POST', '/apis', { audience: adminAudience, scopes: ['x'] }), 400);
    expectProblem(await call(token, 'DELETE', `/apis/${encodeURIComponent(adminAudience)}`), 400);
    expect((await call(token, 'DELETE', path)).status).toBe(204);
    expect(await server.store.apis.find('https://orders.example.com')).toBeUndefined();
  });

  test('keys: list shows no key material; rotate switches this node at once and old tokens keep verifying', async () => {
    const token = await adminToken(['admin:keys:read', 'admin:keys:write']);
    const before = await call(token, 'GET', '/keys');
    expect(before.status).toBe(200);
    expect(JSON.stringify(before.body)).not.toMatch(/"d"|"p"|"q"/);
    const active = before.body.items.filter((k: { status: string }) => k.status === 'active').map((k: { kid: string }) => k.kid);
    const rotated = await call(token, 'POST', '/keys/rotate', {});
    expect(rotated.status).toBe(200);
    const newKids = rotated.body.rotated.map((k: { kid: string }) => k.kid);
    const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    for (const kid of [...newKids, ...active]) expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    // the token signed by the old key still works until it expires
    expect((await call(token, 'GET', '/keys')).status).toBe(200);
    const fresh = await adminToken(['admin:keys:read']);
    expect(newKids).toContain(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid);
  });
});

describe('the user list is paged by the store', () => {
  test('300 users, limit=50: each exactly once, in normalised-username order, no request reading more than a page', async () => {
    const own = await startTestServer();
    try {
      const accounts = own.store.accounts;
      const usernames = Array.from({ length: 300 }, (_, i) => `${i % 3 === 0 ? 'User' : 'user'}${String((i * 7919) % 300).padStart(3, '0')}`);
      for (const username of usernames) {
        await accounts.create({ id: `sub-${username}`, username, email: `${username}@example.com`, emailVerified: false, name: null, passwordHash: '', claims: {} });
      }
      // the route may not load every account; count what each page reads
      const pageReads: number[] = [];
      const page = accounts.page.bind(accounts);
      accounts.list = () => Promise.reject(new Error('the user list loaded every account'));
      accounts.page = async (query) => {
        const rows = await page(query);
        pageReads.push(rows.length);
        return rows;
      };
      const token = (await newAdminToken(own.store, own.url, ['admin:users:read'])).token;
      const seen: string[] = [];
      let cursor: string | null = null;
      let requests = 0;
      do {
        const answer = await adminCall(own.url, token, 'GET', `/users?limit=50${cursor ? `&cursor=${cursor}` : ''}`);
        expect(answer.status).toBe(200);
        seen.push(...(answer.body.items as { username: string }[]).map((u) => u.username));
        cursor = answer.body.next_cursor as string | null;
        requests += 1;
      } while (cursor !== null && requests < 20);
      expect(requests).toBe(6);
      expect(seen).toEqual([...usernames].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)));
      expect(new Set(seen).size).toBe(300);
      expect(Math.max(...pageReads)).toBeLessThanOrEqual(51);

      // q pages too: 'ser00' matches user000-user009 (either case), 4 a page
      const found: string[] = [];
      cursor = null;
      do {
        const answer = await adminCall(own.url, token, 'GET', `/users?limit=4&q=SER00${cursor ? `&cursor=${cursor}` : ''}`);
        found.push(...(answer.body.items as { username: string }[]).map((u) => u.username.toLowerCase()));
        cursor = answer.body.next_cursor as string | null;
      } while (cursor !== null && found.length < 20);
      expect(found).toEqual(Array.from({ length: 10 }, (_, i) => `user00${i}`));
    } finally {
      await own.stop();
    }
  });
});

describe('DPoP-bound admin tokens', () => {
  test('accepted with a fresh proof; refused as Bearer, without a proof, or with a replayed proof', async () => {
    const { config } = await adminClient(['admin:users:read']);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const tokens = await oidc.clientCredentialsGrant(config, { resource: adminAudience, scope: 'admin:users:read' }, { DPoP: dpop });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const url = new URL(`${issuer}/admin/v1/users`);
    const ok = await oidc.fetchProtectedResource(config, tokens.access_token, url, 'GET', undefined, undefined, { DPoP: dpop });
    expect(ok.status).toBe(200);

    const asBearer = await call(tokens.access_token, 'GET', '/users');
    expectProblem(asBearer, 401);
    expect(asBearer.body.detail).toMatch(/DPoP-bound/);
    const noProof = await fetch(url, { headers: { authorization: `DPoP ${tokens.access_token}` } });
    expect(noProof.status).toBe(401);

    // capture one proof and send it twice
    let proof = '';
    config[oidc.customFetch] = (input, init) => {
      proof = new Headers(init.headers as HeadersInit).get('dpop') ?? '';
      return fetch(input, init as RequestInit);
    };
    const capture = await oidc.fetchProtectedResource(config, tokens.access_token, url, 'GET', undefined, undefined, { DPoP: dpop });
    delete config[oidc.customFetch];
    expect(proof).not.toBe('');
    expect(capture.status).toBe(200);
    const replay = await fetch(url, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof } });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { detail: string }).detail).toMatch(/used already/);
  });
});

describe('the OpenAPI document', () => {
  test('is served, OpenAPI 3.1, and every documented operation exists and is protected (401 without a token)', async () => {
    const res = await fetch(`${issuer}/admin/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { operationId: string; security: unknown[] }>> };
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThanOrEqual(12);
    for (const { path, method, op } of operations) {
      expect(op.operationId).toBeTruthy();
      expect(op.security).toEqual([{ oauth2: [expect.stringMatching(/^admin:/)] }]);
      const answer = await call(undefined, method.toUpperCase(), path.replace(/\{\w+\}/g, 'x'));
      expect({ path, method, status: answer.status }).toEqual({ path, method, status: 401 });
    }
  });
});

describe('where the admin API is served', () => {
  test('admin.enabled false: /admin/v1 is not there at all', async () => {
    const off = await startTestServer({ admin: { enabled: false } });
    try {
      const res = await fetch(`${off.url}/admin/v1/openapi.json`, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).not.toMatch(/problem/);
    } finally {
      await off.stop();
    }
  });

  test('by default only on a loopback interface', async () => {
    const { adminEnabled } = await import('../../src/admin/admin-api.js');
    const { configDefaults } = await import('../../src/config/schema.js');
    const base = configDefaults();
    expect(adminEnabled({ ...base, host: '0.0.0.0' })).toBe(false);
    expect(adminEnabled({ ...base, host: '10.0.0.5' })).toBe(false);
    expect(adminEnabled({ ...base, host: '127.0.0.1' })).toBe(true);
    expect(adminEnabled({ ...base, host: '::1' })).toBe(true);
    expect(adminEnabled({ ...base, host: '0.0.0.0', admin: { ...base.admin, enabled: true } })).toBe(true);
    // with a separate admin port, the public port serves it only when told to
    expect(adminEnabled({ ...base, host: '127.0.0.1', admin: { ...base.admin, port: 9400 } })).toBe(false);
    expect(adminEnabled({ ...base, host: '127.0.0.1', admin: { ...base.admin, port: 9400, enabled: true } })).toBe(true);
  });

  test('admin.port: a separate listener serves the admin API and nothing else; the public port then does not serve it', async () => {
    const split = await startTestServer({ admin: { port: 0 } });
    try {
      const adminUrl = `http://127.0.0.1:${split.adminAddress!.port}`;
      expect((await fetch(`${split.url}/admin/v1/openapi.json`, { headers: { accept: 'application/json' } })).status).toBe(404);
      expect((await fetch(`${adminUrl}/admin/v1/openapi.json`)).status).toBe(200);
      const elsewhere = await fetch(`${adminUrl}/.well-known/openid-configuration`);
      expect(elsewhere.status).toBe(404);
      expect(await elsewhere.text()).not.toMatch(/issuer/);
      // a token from the public port works at the admin port
      const client = await addClient(split.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], post_logout_redirect_uris: [], api_scopes: ['admin:users:read'] });
      const config = await discover(split.url, client.client_id, client.client_secret);
      const { access_token } = await oidc.clientCredentialsGrant(config, { resource: `${split.url}/admin`, scope: 'admin:users:read' });
      const users = await fetch(`${adminUrl}/admin/v1/users`, { headers: { authorization: `Bearer ${access_token}` } });
      expect(users.status).toBe(200);
      expect(((await users.json()) as { items: unknown[] }).items).toEqual([]);
    } finally {
      await split.stop();
    }
  });

  test('rate-limited per address: past admin.requestsPerMinute, 429 with Retry-After', async () => {
    const limited = await startTestServer({ admin: { requestsPerMinute: 3 } });
    try {
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 5; i += 1) {
        last = await fetch(`${limited.url}/admin/v1/users`);
        statuses.push(last.status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.stop();
    }
  });
});
