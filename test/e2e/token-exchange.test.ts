/**
 * RFC 8693 token exchange over real HTTP with real tokens: a user signs in to a web app for API A;
 * A's backend exchanges the user's token for one for API B, naming itself as the actor; B's
 * backend introspects it (opaque) or verifies it with jose against the published JWKS (RFC 9068),
 * and a DPoP proof binds it to the backend's key.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { createRemoteJWKSet, exportJWK, calculateJwkThumbprint, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { accessTokenType, addService, billingApi, exchange, introspect, ordersApi, reportsApi, setupCast, type Cast } from '../helpers/token-exchange.js';

let server: TestServer;
let cast: Cast;

beforeAll(async () => {
  server = await startTestServer();
  cast = await setupCast(server);
});
afterAll(() => server.stop());

describe('a resource server exchanges the user\'s token for one for another API (delegation)', () => {
  test('200 with an access token for B: act names the service, scopes narrowed to what B has and the service may have, no refresh token', async () => {
    const user = await cast.signIn();
    const before = await introspect(server, cast.service, user.access_token);
    expect(before.body).toMatchObject({ active: true, aud: ordersApi, scope: 'orders:read orders:write', client_id: cast.app.client_id });

    const res = await exchange(server, cast.service, user.access_token, { resource: billingApi });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/no-store/);
    expect(res.body).toMatchObject({ issued_token_type: accessTokenType, token_type: 'Bearer', scope: 'orders:read' });
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.id_token).toBeUndefined();
    expect(res.body.expires_in).toBeGreaterThan(0);
    expect(res.body.expires_in).toBeLessThanOrEqual((before.body.exp as number) - Math.floor(Date.now() / 1000) + 1);

    // B's backend sees an active token for the user, for B, issued to the service acting for her
    const seen = await introspect(server, cast.billing, res.body.access_token as string);
    expect(seen.body).toMatchObject({
      active: true, sub: cast.aliceId, aud: billingApi, client_id: cast.service.client_id, scope: 'orders:read', act: { sub: cast.service.client_id }, token_type: 'Bearer',
    });
    expect(seen.body.exp).toBeLessThanOrEqual(before.body.exp as number);
    // … and the original token is untouched
    expect((await introspect(server, cast.service, user.access_token)).body.active).toBe(true);
  });

  test('asking for fewer scopes gives fewer; the audience parameter names the API as resource does', async () => {
    const user = await cast.signIn();
    const res = await exchange(server, cast.service, user.access_token, { audience: billingApi, scope: 'orders:read' });
    expect([res.status, res.body.scope]).toEqual([200, 'orders:read']);
  });

  test('JWT format for a JWT API: an RFC 9068 token with act, verified with jose against the JWKS', async () => {
    const user = await cast.signIn();
    const res = await exchange(server, cast.service, user.access_token, { resource: reportsApi });
    expect(res.status).toBe(200);
    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token as string, jwks, { issuer: server.url, audience: reportsApi, typ: 'at+jwt', algorithms: ['ES256'] });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: cast.aliceId, client_id: cast.service.client_id, scope: 'orders:read', act: { sub: cast.service.client_id } });
    expect(payload.exp! - payload.iat!).toBe(res.body.expires_in);

    // a JWT subject token is exchanged too, by its API's backend, and the chain of actors nests
    const reports = await addService(server, { client_name: 'Reports backend', introspect_for: [reportsApi], api_scopes: ['orders:read'] });
    const again = await exchange(server, reports, res.body.access_token as string, { resource: billingApi });
    expect(again.status).toBe(200);
    expect(again.body.expires_in).toBeLessThanOrEqual(payload.exp! - Math.floor(Date.now() / 1000) + 1);
    const seen = await introspect(server, cast.billing, again.body.access_token as string);
    expect(seen.body).toMatchObject({
      active: true, sub: cast.aliceId, client_id: reports.client_id, scope: 'orders:read', act: { sub: reports.client_id, act: { sub: cast.service.client_id } },
    });
  });

  test('DPoP: a proof with the request binds the new token to the service\'s key (cnf.jkt, token_type DPoP)', async () => {
    const user = await cast.signIn();
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const proof = await new SignJWT({ htm: 'POST', htu: `${server.url}/token`, jti: randomUUID() })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
      .setIssuedAt()
      .sign(privateKey);
    const res = await exchange(server, cast.service, user.access_token, { resource: billingApi }, { dpop: proof });
    expect([res.status, res.body.token_type]).toEqual([200, 'DPoP']);
    const seen = await introspect(server, cast.billing, res.body.access_token as string);
    expect(seen.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: await calculateJwkThumbprint(jwk) }, act: { sub: cast.service.client_id } });

    // the same proof again is a replay
    const replay = await exchange(server, cast.service, user.access_token, { resource: billingApi }, { dpop: proof });
    expect(replay.status).toBe(400);
    expect(replay.body.access_token).toBeUndefined();
  });

  test('discovery lists the token exchange grant', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as { grant_types_supported: string[] };
    expect(meta.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:token-exchange');
  });
});

describe('audit', () => {
  const lines: Record<string, unknown>[] = [];
  let logged: RunningServer;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${tempDir()}/idport.db` });
    logged = await startServer(config, { logger: pino({ level: 'info' }, sink) });
  });
  afterAll(() => logged.close());

  test('each exchange (client, user, audiences, act or impersonation) and each refusal with its reason; never a token', async () => {
    const s = logged as unknown as TestServer;
    const c = await setupCast(s);
    const user = await c.signIn();
    const res = await exchange(s, c.service, user.access_token, { resource: billingApi });
    expect(res.status).toBe(200);
    expect((await exchange(s, c.service, user.access_token, { resource: billingApi, scope: 'billing:read' })).status).toBe(400);
    expect((await exchange(s, c.app, user.access_token, { resource: billingApi })).status).toBe(400);

    const audits = lines.filter((l) => l.kind === 'audit' && l.audit === 'token.exchanged');
    expect(audits).toEqual([
      expect.objectContaining({
        outcome: 'success', client_id: c.service.client_id, actor: c.aliceId, subject_client_id: c.app.client_id, subject_audience: ordersApi,
        audience: billingApi, scope: 'orders:read', act_chain: [c.service.client_id], impersonation: false, dpop: false, grant_id: expect.any(String),
      }),
      expect.objectContaining({ outcome: 'denied', client_id: c.service.client_id, error: 'invalid_scope', reason: expect.stringMatching(/billing:read/) }),
      expect.objectContaining({ outcome: 'denied', client_id: c.app.client_id, error: 'unauthorized_client' }),
    ]);
    const all = JSON.stringify(lines);
    for (const secret of [user.access_token, res.body.access_token as string, c.service.client_secret]) expect(all).not.toContain(secret);
  });
});
