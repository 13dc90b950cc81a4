/**
 * Requests through oidc-provider's routes are let go once answered (src/http/release-request.ts):
 * the context that oidc-provider's per-request `ctx.oidc` getter keeps reachable no longer leads
 * to Node's request and response or to the models found. The answers themselves, keep-alive
 * connections and clients that leave early must not notice.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import type { KoaContextWithOIDC } from 'oidc-provider';

import { addClient } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let machine: { client_id: string; client_secret: string };

beforeAll(async () => {
  server = await startTestServer();
  machine = await addClient(server.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], post_logout_redirect_uris: [] });
});
afterAll(async () => server.stop());

const basic = (secret = machine.client_secret) => `Basic ${Buffer.from(`${machine.client_id}:${secret}`).toString('base64')}`;

function tokenRequest(secret?: string, signal?: AbortSignal) {
  return fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: basic(secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
    signal,
  });
}

/** The context of the next request that emits `event` (oidc-provider passes it to listeners). */
function nextContext(event: 'grant.success' | 'grant.error'): Promise<KoaContextWithOIDC> {
  const provider = server.idport.provider() as unknown as NodeJS.EventEmitter;
  return new Promise((resolve) => provider.once(event, (ctx: KoaContextWithOIDC) => resolve(ctx)));
}

const links = ['req', 'res', 'request', 'response', 'state'] as const;
const heldLinks = (ctx: KoaContextWithOIDC) => links.filter((name) => (ctx as unknown as Record<string, unknown>)[name] !== undefined);

/** Waits (up to 2 s) until the context holds none of its links to the request. */
async function released(ctx: KoaContextWithOIDC): Promise<string[]> {
  for (let i = 0; i < 200 && heldLinks(ctx).length; i += 1) await sleep(10);
  return heldLinks(ctx);
}

test('a token request is let go once answered, after a complete answer', async () => {
  const seen = nextContext('grant.success');
  const res = await tokenRequest();
  const body = (await res.json()) as { access_token?: string; token_type?: string };
  expect(res.status).toBe(200);
  expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
  const ctx = await seen;
  expect(await released(ctx)).toEqual([]);
  const oidc = ctx.oidc as unknown as { entities: object; params?: unknown; body?: unknown };
  expect(Object.keys(oidc.entities)).toEqual([]);
  expect([oidc.params, oidc.body]).toEqual([undefined, undefined]);
});

test('a refused token request is let go too, and still gets its OAuth error', async () => {
  const seen = nextContext('grant.error');
  const res = await tokenRequest('wrong-secret');
  expect(res.status).toBe(401);
  expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  expect(await released(await seen)).toEqual([]);
});

test('requests one after another on a kept-alive connection each get their own whole answer', async () => {
  for (let i = 0; i < 20; i += 1) {
    const res = await tokenRequest();
    expect(res.status).toBe(200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    const introspected = await fetch(`${server.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(introspected.status).toBe(200);
    expect(await introspected.json()).toMatchObject({ active: true, client_id: machine.client_id });
  }
});

test('clients that leave right after asking break nothing: the server keeps answering', async () => {
  const { hostname, port } = new URL(server.url);
  const request = [
    'POST /token HTTP/1.1',
    `Host: ${hostname}:${port}`,
    `Authorization: ${basic()}`,
    'Content-Type: application/x-www-form-urlencoded',
    'Content-Length: 29',
    '',
    'grant_type=client_credentials',
  ].join('\r\n');
  const issued = nextContext('grant.success');
  // Each writes a whole token request and goes away after 0–4 ms: before, during or after the
  // server's answer, so its 'close' comes at every point of the request's life.
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => new Promise<void>((resolve) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(request);
        setTimeout(() => socket.destroy(), i % 5);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => undefined);
    })),
  );
  await issued; // the server did get (at least) one of them through to a token
  await sleep(100);
  const res = await tokenRequest();
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ token_type: 'Bearer' });
});
