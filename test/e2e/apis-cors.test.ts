import { decodeJwt, decodeProtectedHeader } from 'jose';

import { cli, killChildren } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let db: string;
beforeAll(async () => {
  server = await startTestServer();
  db = `sqlite:${server.dir}/idport.db`;
});
afterAll(async () => {
  killChildren();
  await server.stop();
});

const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

describe('idport apis', () => {
  test('add, list, show, remove with --json; bad input refused', async () => {
    const added = await cli(db, ['apis', 'add', '--audience', 'https://api.example.com', '--scope', 'read:things', '--scope', 'write:things', '--name', 'Things', '--ttl', '900', '--json']);
    expect(added.code).toBe(0);
    expect(json(added.stdout)).toMatchObject({ audience: 'https://api.example.com', name: 'Things', scopes: ['read:things', 'write:things'], token_format: 'jwt', access_token_ttl: 900 });
    const listed = json((await cli(db, ['apis', 'list', '--json'])).stdout);
    expect((listed.apis as { audience: string }[]).map((a) => a.audience)).toEqual(['https://api.example.com']);
    expect(json((await cli(db, ['apis', 'show', 'https://api.example.com', '--json'])).stdout)).toMatchObject({ token_format: 'jwt' });

    for (const bad of [
      ['apis', 'add', '--audience', 'not a uri'],
      ['apis', 'add', '--audience', 'https://api.example.com/#x'],
      ['apis', 'add', '--audience', 'https://x.example', '--scope', 'openid'],
      ['apis', 'add', '--audience', 'https://x.example', '--token-format', 'paseto'],
      ['apis', 'add', '--audience', 'https://api.example.com'],
    ]) {
      const run = await cli(db, bad);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
    }
    expect((await cli(db, ['apis', 'remove', 'https://api.example.com'])).code).toBe(0);
    expect((await cli(db, ['apis', 'remove', 'https://api.example.com'])).code).toBe(1);
  });

  test('a machine client with a default audience gets an ES256 at+jwt with only its registered scopes', async () => {
    await cli(db, ['apis', 'add', '--audience', 'https://orders.example.com', '--scope', 'orders:read', '--scope', 'orders:write']);
    const refused = await cli(db, ['clients', 'add', '--name', 'Bad', '--grant-type', 'client_credentials', '--audience', 'https://nope.example.com']);
    expect(refused.code).toBe(2);
    const client = json((await cli(db, ['clients', 'add', '--name', 'Worker', '--grant-type', 'client_credentials', '--audience', 'https://orders.example.com', '--scope', 'orders:read', '--json'])).stdout);
    expect(client).toMatchObject({ default_audience: 'https://orders.example.com', api_scopes: ['orders:read'] });

    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${String(client.client_id)}:${String(client.client_secret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read orders:write' }).toString(),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe('orders:read');
    expect(decodeProtectedHeader(body.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: 'https://orders.example.com', scope: 'orders:read', client_id: client.client_id, iss: server.url });
  });
});

describe('a designated resource server may introspect tokens for its API', () => {
  const basic = (c: Record<string, unknown>) => `Basic ${Buffer.from(`${String(c.client_id)}:${String(c.client_secret)}`).toString('base64')}`;
  const post = (path: string, c: Record<string, unknown>, body: Record<string, string>) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c) },
      body: new URLSearchParams(body).toString(),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

  test('only for access tokens of the APIs it was registered for', async () => {
    await cli(db, ['apis', 'add', '--audience', 'https://ledger.example.com', '--scope', 'ledger:read', '--token-format', 'opaque']);
    await cli(db, ['apis', 'add', '--audience', 'https://other.example.com', '--scope', 'other:read', '--token-format', 'opaque']);
    const worker = json((await cli(db, ['clients', 'add', '--name', 'W', '--grant-type', 'client_credentials', '--audience', 'https://ledger.example.com', '--scope', 'ledger:read', '--json'])).stdout);
    const otherWorker = json((await cli(db, ['clients', 'add', '--name', 'O', '--grant-type', 'client_credentials', '--audience', 'https://other.example.com', '--scope', 'other:read', '--json'])).stdout);
    const rs = json((await cli(db, ['clients', 'add', '--name', 'Ledger API', '--grant-type', 'client_credentials', '--introspect-for', 'https://ledger.example.com', '--json'])).stdout);
    const stranger = json((await cli(db, ['clients', 'add', '--name', 'S', '--grant-type', 'client_credentials', '--json'])).stdout);
    expect(rs.introspect_for).toEqual(['https://ledger.example.com']);
    expect((await cli(db, ['clients', 'add', '--name', 'X', '--grant-type', 'client_credentials', '--introspect-for', 'https://nope.example'])).code).toBe(2);

    const ledgerToken = String((await post('/token', worker, { grant_type: 'client_credentials', scope: 'ledger:read' })).body.access_token);
    const otherToken = String((await post('/token', otherWorker, { grant_type: 'client_credentials', scope: 'other:read' })).body.access_token);
    expect((await post('/token/introspection', rs, { token: ledgerToken })).body).toMatchObject({ active: true, aud: 'https://ledger.example.com', client_id: worker.client_id, scope: 'ledger:read' });
    expect((await post('/token/introspection', rs, { token: otherToken })).body).toEqual({ active: false });
    expect((await post('/token/introspection', stranger, { token: ledgerToken })).body).toEqual({ active: false });
  });
});

describe('CORS for browser apps', () => {
  let clientId: string;
  beforeAll(async () => {
    const client = json(
      (await cli(db, ['clients', 'add', '--name', 'SPA', '--public', '--redirect-uri', 'http://127.0.0.1:5173/cb', '--web-origin', 'http://127.0.0.1:5173', '--json'])).stdout,
    );
    clientId = String(client.client_id);
    expect(client.web_origins).toEqual(['http://127.0.0.1:5173']);
  });

  const revoke = (origin: string) =>
    fetch(`${server.url}/token/revocation`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, token: 'x' }).toString(),
    });

  test("the client's registered origin gets CORS at the revocation and token endpoints", async () => {
    const res = await revoke('http://127.0.0.1:5173');
    expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
    const token = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { origin: 'http://127.0.0.1:5173', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43), redirect_uri: 'http://127.0.0.1:5173/cb' }).toString(),
    });
    expect(token.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
  });

  test('any other origin gets no CORS header, and the authorization endpoint never does', async () => {
    const res = await revoke('https://evil.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const auth = await fetch(`${server.url}/auth?client_id=${clientId}`, { headers: { origin: 'http://127.0.0.1:5173' }, redirect: 'manual' });
    expect(auth.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('--web-origin must be an origin', async () => {
    const run = await cli(db, ['clients', 'add', '--name', 'X', '--public', '--redirect-uri', 'http://127.0.0.1:5173/cb', '--web-origin', 'http://127.0.0.1:5173/path']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--web-origin/);
  });
});
