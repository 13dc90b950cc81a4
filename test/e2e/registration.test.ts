/**
 * Dynamic client registration (RFC 7591) and its management (RFC 7592), end to end: the real
 * server over HTTP, initial access tokens minted with the real `idport` command line on the
 * server's own store, clients registered with openid-client, then signing a user in.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import * as oidc from 'openid-client';

import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openStore } from '../../src/storage/open-store.js';
import { cli, killChildren } from '../helpers/cli.js';
import { addClient, addUser, loginAndRedeem } from '../helpers/flow.js';
import { sleep } from '../helpers/process.js';
import { tempDir, startTestServer } from '../helpers/server.js';

const REDIRECT_URI = 'http://127.0.0.1:8080/callback';
const webApp = { client_name: 'Registered app', redirect_uris: [REDIRECT_URI] };

interface Logged extends RunningServer {
  databaseUrl: string;
  lines: Record<string, unknown>[];
  audits(event: string): Record<string, unknown>[];
}

/** A real server whose log lines are kept (the registration warning, audit events). */
async function startLogged(overrides: Partial<ConfigInput>, databaseUrl = `sqlite:${join(tempDir(), 'idport.db')}`): Promise<Logged> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl, bruteForce: { loginsPerIpPerMinute: 10_000 }, ...overrides });
  const store = await openStore(databaseUrl);
  const server = await startServer(config, { logger: pino({ level: 'info' }, sink), store });
  const close = async () => {
    await server.close();
    await store.close();
  };
  return { ...server, close, databaseUrl, lines, audits: (event) => lines.filter((l) => l.kind === 'audit' && l.audit === event) };
}

/** A raw registration request, as any client would send it. */
async function register(server: { url: string }, body: Record<string, unknown>, token?: string) {
  const res = await fetch(`${server.url}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** An RFC 7592 request to a client's configuration endpoint with a registration access token. */
async function manage(url: string, rat: string, method: 'GET' | 'PUT' | 'DELETE', body?: Record<string, unknown>) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${rat}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** `idport registration token create …` on the server's store; returns the token and its id. */
async function mintToken(server: Logged, ...options: string[]) {
  const run = await cli(server.databaseUrl, ['registration', 'token', 'create', ...options, '--json'], undefined, 20_000, { REGISTRATION_MODE: 'initial-access-token' });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(run.stdout) as { token: string; id: string; uses: number | null; used: number; expires_at: string };
}

afterAll(killChildren);

describe('registration.mode off (the default)', () => {
  test('no registration endpoint: absent from discovery, /reg answers 404', async () => {
    const server = await startTestServer();
    try {
      const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(meta).not.toHaveProperty('registration_endpoint');
      expect(meta.issuer).toBe(server.url);
      const res = await register(server, webApp);
      expect(res.status).toBe(404);
      expect(await server.store.clients.list()).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});

describe('registration.mode initial-access-token', () => {
  let server: Logged;
  beforeAll(async () => {
    server = await startLogged({ registration: { mode: 'initial-access-token', requestsPerIpPerMinute: 1000 } });
    await addUser(server.store);
  });
  afterAll(() => server.close());

  test('discovery advertises the registration endpoint; no start-up warning', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta.registration_endpoint).toBe(`${server.url}/reg`);
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['private_key_jwt']));
    expect(server.lines.filter((l) => l.registration === 'open')).toEqual([]);
  });

  test('without a token, or with one that is not ours: 401 invalid_token, nothing stored', async () => {
    const before = (await server.store.clients.list()).length;
    const none = await register(server, webApp);
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_token');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    for (const token of ['made-up', 'idport_iat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      const res = await register(server, webApp, token);
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_token' });
    }
    expect((await server.store.clients.list()).length).toBe(before);
    expect(server.audits('client.registered').filter((l) => l.outcome === 'denied').length).toBeGreaterThanOrEqual(3);
  });

  test('a CLI-minted token registers a client (openid-client), which then signs a user in and is listed with its origin', async () => {
    const minted = await mintToken(server, '--uses', '2', '--ttl', '10m');
    expect(minted.token).toMatch(/^idport_iat_[\w-]{43}$/);
    expect({ uses: minted.uses, used: minted.used }).toEqual({ uses: 2, used: 0 });
    // the store keeps no token, only its hash
    expect(JSON.stringify(await server.store.registrationTokens.list())).not.toContain(minted.token.slice(11));

    const config = await oidc.dynamicClientRegistration(new URL(server.url), webApp, undefined, {
      initialAccessToken: minted.token,
      execute: [oidc.allowInsecureRequests],
    });
    const metadata = config.clientMetadata();
    expect(metadata.client_id).toMatch(/^[\w-]{22}$/);
    expect(typeof metadata.client_secret).toBe('string');
    expect((metadata.client_secret as string).length).toBeGreaterThanOrEqual(32);
    expect(metadata.registration_access_token).toEqual(expect.any(String));
    expect(metadata.registration_client_uri).toBe(`${server.url}/reg/${metadata.client_id}`);

    const { tokens } = await loginAndRedeem(config, server.url);
    expect(tokens.claims()?.aud).toBe(metadata.client_id);
    expect(tokens.access_token).toBeTruthy();

    const cliClient = await addClient(server.store);
    const listed = await cli(server.databaseUrl, ['clients', 'list', '--json']);
    const byId = new Map((JSON.parse(listed.stdout) as { clients: Record<string, unknown>[] }).clients.map((c) => [c.client_id, c]));
    expect(byId.get(metadata.client_id)).toMatchObject({ origin: 'registration', client_name: 'Registered app', has_secret: true });
    expect(byId.get(cliClient.client_id)).toMatchObject({ origin: 'cli' });
    expect(listed.stdout).not.toContain(metadata.client_secret as string);
    const text = await cli(server.databaseUrl, ['clients', 'list']);
    expect(text.stdout.split('\n')[0]).toMatch(/\borigin$/);
    expect(text.stdout).toMatch(new RegExp(`${metadata.client_id}\\s.*\\sregistration$`, 'm'));

    const [line] = server.audits('client.registered').filter((l) => l.client_id === metadata.client_id);
    expect(line).toMatchObject({ outcome: 'success', origin: 'registration', via: `initial-access-token:${minted.id}` });
    expect(JSON.stringify(server.lines)).not.toContain(minted.token);
    expect(JSON.stringify(server.lines)).not.toContain(metadata.registration_access_token as string);

    // one use of two taken; `registration token list` says so
    const list = await cli(server.databaseUrl, ['registration', 'token', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { tokens: Record<string, unknown>[] }).tokens.find((t) => t.id === minted.id)).toMatchObject({ uses: 2, used: 1 });
    expect(list.stdout).not.toContain(minted.token);
  });

  test('--uses 1 raced by parallel registrations: exactly one 201', async () => {
    const { token, id } = await mintToken(server, '--uses', '1');
    const before = (await server.store.clients.list()).length;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => register(server, { ...webApp, client_name: `Racer ${i}` }, token)));
    expect(results.map((r) => r.status).sort()).toEqual([201, 401, 401, 401, 401, 401]);
    expect((await server.store.clients.list()).length).toBe(before + 1);
    expect((await server.store.registrationTokens.list()).find((t) => t.id === id)).toMatchObject({ maxUses: 1, used: 1 });
  });

  test('two nodes on one store: a 1-use token raced across both still registers exactly one client', async () => {
    const other = await startLogged({ registration: { mode: 'initial-access-token', requestsPerIpPerMinute: 1000 } }, server.databaseUrl);
    try {
      const { token } = await mintToken(server, '--uses', '1');
      const before = (await server.store.clients.list()).length;
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => register(i % 2 ? other : server, { ...webApp, client_name: `Node racer ${i}` }, token)));
      expect(results.map((r) => r.status).sort()).toEqual([201, 401, 401, 401, 401, 401]);
      expect((await server.store.clients.list()).length).toBe(before + 1);
      // a client registered at one node is managed at the other
      const winner = results.find((r) => r.status === 201)!;
      const path = new URL(winner.body.registration_client_uri as string).pathname;
      const read = await manage(`${(winner.body.registration_client_uri as string).startsWith(other.url) ? server.url : other.url}${path}`, winner.body.registration_access_token as string, 'GET');
      expect(read).toMatchObject({ status: 200, body: { client_id: winner.body.client_id } });
    } finally {
      await other.close();
    }
  });

  test('a refused registration gives its use back; a revoked or expired token is refused', async () => {
    const { token, id } = await mintToken(server, '--uses', '1');
    const bad = await register(server, { ...webApp, redirect_uris: [`${REDIRECT_URI}#fragment`] }, token);
    expect({ status: bad.status, error: bad.body.error }).toEqual({ status: 400, error: 'invalid_redirect_uri' });
    expect((await register(server, webApp, token)).status).toBe(201);
    expect((await register(server, webApp, token)).status).toBe(401);

    const revoked = await mintToken(server);
    const run = await cli(server.databaseUrl, ['registration', 'token', 'revoke', revoked.id, '--json']);
    expect(JSON.parse(run.stdout)).toEqual({ revoked: true, id: revoked.id });
    expect((await register(server, webApp, revoked.token)).status).toBe(401);

    const short = await mintToken(server, '--ttl', '1s');
    await sleep(1100);
    const expired = await register(server, webApp, short.token);
    expect({ status: expired.status, error: expired.body.error }).toEqual({ status: 401, error: 'invalid_token' });
    expect(id).not.toBe(short.id);
  });

  test('the CLI refuses a bad --ttl or --uses', async () => {
    for (const args of [['--ttl', 'soon'], ['--ttl', '0'], ['--uses', '0'], ['--uses', '1.5']]) {
      const run = await cli(server.databaseUrl, ['registration', 'token', 'create', ...args]);
      expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
      expect(run.stderr).toMatch(/^idport: --(ttl|uses) /);
    }
  });

  test('RFC 7592: read, update (the access token rotates), delete; a wrong token is 401; a deleted client gets no tokens', async () => {
    const { token } = await mintToken(server);
    const created = await register(server, { ...webApp, client_name: 'Managed' }, token);
    expect(created.status).toBe(201);
    const clientUri = created.body.registration_client_uri as string;
    const rat = created.body.registration_access_token as string;
    const clientId = created.body.client_id as string;
    const secret = created.body.client_secret as string;

    const read = await manage(clientUri, rat, 'GET');
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ client_id: clientId, client_name: 'Managed', redirect_uris: [REDIRECT_URI] });
    expect(read.headers.get('cache-control')).toMatch(/no-store/);

    const wrong = await manage(clientUri, 'not-the-token', 'GET');
    expect({ status: wrong.status, error: wrong.body.error }).toEqual({ status: 401, error: 'invalid_token' });

    // RFC 7592 §2.2: the update repeats the metadata, without the fields the server manages
    const managed = new Set(['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at']);
    const current = Object.fromEntries(Object.entries(read.body).filter(([k]) => !managed.has(k)));
    const updated = await manage(clientUri, rat, 'PUT', { ...current, client_name: 'Managed, renamed' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ client_id: clientId, client_name: 'Managed, renamed', client_secret: secret });
    const rotated = updated.body.registration_access_token as string;
    expect(rotated).not.toBe(rat);
    expect((await manage(clientUri, rat, 'GET')).status).toBe(401);
    expect(await server.store.clients.find(clientId)).toMatchObject({ client_name: 'Managed, renamed', idport_origin: 'registration' });
    expect(server.audits('client.updated').find((l) => l.client_id === clientId)).toMatchObject({ outcome: 'success', origin: 'registration' });

    // the client works until it is deleted
    const config = await oidc.discovery(new URL(server.url), clientId, secret, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    const { tokens } = await loginAndRedeem(config, server.url, { scope: 'openid offline_access', extra: { prompt: 'consent' } });
    expect(tokens.refresh_token).toBeTruthy();

    const deleted = await manage(clientUri, rotated, 'DELETE');
    expect(deleted.status).toBe(204);
    expect(await server.store.clients.find(clientId)).toBeUndefined();
    expect(server.audits('client.removed').find((l) => l.client_id === clientId)).toMatchObject({ outcome: 'success', origin: 'registration' });
    expect((await manage(clientUri, rotated, 'GET')).status).toBe(401);
    const refresh = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }).toString(),
    });
    expect({ status: refresh.status, error: ((await refresh.json()) as { error: string }).error }).toEqual({ status: 401, error: 'invalid_client' });
    expect((await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
    await expect(loginAndRedeem(config, server.url)).rejects.toThrow();
  });

  test('`idport clients remove` removes a registered client too', async () => {
    const { token } = await mintToken(server);
    const created = await register(server, webApp, token);
    const clientId = created.body.client_id as string;
    const run = await cli(server.databaseUrl, ['clients', 'remove', clientId, '--json']);
    expect(JSON.parse(run.stdout)).toEqual({ removed: true, client_id: clientId });
    expect(await server.store.clients.find(clientId)).toBeUndefined();
    // its registration access token now finds no client
    expect((await manage(created.body.registration_client_uri as string, created.body.registration_access_token as string, 'GET')).status).toBe(401);
  });
});

describe('registration.mode open', () => {
  test('anyone registers without a token; start-up logs a loud warning', async () => {
    const server = await startLogged({ registration: { mode: 'open' } });
    try {
      const warning = server.lines.find((l) => l.registration === 'open');
      expect(warning).toMatchObject({ level: 40 });
      expect(String(warning!.msg)).toMatch(/^WARNING: dynamic client registration is OPEN/);
      await addUser(server.store);
      const config = await oidc.dynamicClientRegistration(new URL(server.url), webApp, undefined, { execute: [oidc.allowInsecureRequests] });
      await loginAndRedeem(config, server.url);
      expect(server.audits('client.registered').find((l) => l.client_id === config.clientMetadata().client_id)).toMatchObject({ outcome: 'success', via: 'open' });
    } finally {
      await server.close();
    }
  });

  test('requests to /reg are limited per address (429 with Retry-After)', async () => {
    const server = await startTestServer({ registration: { mode: 'open', requestsPerIpPerMinute: 3 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await register(server, webApp)).status);
      expect(statuses).toEqual([201, 201, 201, 429]);
      const res = await fetch(`${server.url}/reg/anything`, { headers: { authorization: 'Bearer x' } });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await res.json()) as { error: string }).error).toBe('too_many_requests');
      expect((await server.store.clients.list()).length).toBe(3);
    } finally {
      await server.stop();
    }
  });
});
