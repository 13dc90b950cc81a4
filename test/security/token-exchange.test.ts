/**
 * RFC 8693 token exchange refuses what it must, with the RFC's error codes: a client not registered
 * for it (unauthorized_client); a bad request or a subject token that is invalid for any reason
 * or unacceptable by policy (invalid_request, RFC 8693 §2.2.2's MUST); an API the client may not
 * have (invalid_target); scopes wider than the subject token's or the client's (invalid_scope).
 * A stolen token never becomes a wider one, `act` is never dropped or forged, and exchanged tokens
 * die with the user's grant.
 */
import { randomUUID } from 'node:crypto';

import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';

import { createSignIns } from '../../src/accounts/sign-ins.js';
import { addClient, authorize, discover, loginAndRedeem } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  accessTokenType, addService, billingApi, exchange, introspect, ordersApi, post, reportsApi, setupCast, tokenExchangeGrant, type Cast, type TestClient,
} from '../helpers/token-exchange.js';

const hrApi = 'https://hr.example.com';
const shortApi = 'https://short.example.com';
const shortJwtApi = 'https://short-jwt.example.com';
let server: TestServer;
let cast: Cast;
/** one sign-in's token for A, shared by tests that do not spend it */
let userToken: string;

beforeAll(async () => {
  server = await startTestServer();
  cast = await setupCast(server);
  await server.store.apis.upsert({ audience: hrApi, name: null, scopes: ['hr:read'], tokenFormat: 'opaque', accessTokenTtl: null });
  await server.store.apis.upsert({ audience: shortApi, name: null, scopes: ['orders:read'], tokenFormat: 'opaque', accessTokenTtl: 1 });
  await server.store.apis.upsert({ audience: shortJwtApi, name: null, scopes: ['orders:read'], tokenFormat: 'jwt', accessTokenTtl: 1 });
  userToken = (await cast.signIn()).access_token;
});
afterAll(() => server.stop());

/** 400 with this error (and, when given, a description saying why), and no token. */
const expectRefused = (res: { status: number; body: Record<string, unknown> }, error: string, why?: RegExp) => {
  expect([res.status, res.body.error]).toEqual([400, error]);
  expect(res.body.access_token).toBeUndefined();
  expect(res.body.error_description).toMatch(why ?? /./);
};

describe('only confidential clients registered for the grant', () => {
  test('a client without the token-exchange grant → unauthorized_client', async () => {
    expectRefused(await exchange(server, cast.app, userToken, { resource: billingApi }), 'unauthorized_client', /not registered for token exchange/);
    const machine = await addClient(server.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], introspect_for: [ordersApi] });
    expectRefused(await exchange(server, machine, userToken, { resource: billingApi }), 'unauthorized_client');
  });

  test('a public client, even one stored with the grant past the client policy → unauthorized_client', async () => {
    const spa = await addService(server, { token_endpoint_auth_method: 'none', client_secret: undefined, introspect_for: [ordersApi], api_scopes: ['orders:read'] }) as TestClient;
    expectRefused(await exchange(server, spa, userToken, { resource: billingApi }), 'unauthorized_client', /public client/);
  });
});

describe('the request and its subject token', () => {
  test('missing subject_token, missing or unknown subject_token_type → invalid_request', async () => {
    const send = (body: Record<string, string>) => post(server, '/token', cast.service, { grant_type: tokenExchangeGrant, resource: billingApi, ...body });
    expectRefused(await send({ subject_token_type: accessTokenType }), 'invalid_request', /subject_token/);
    expectRefused(await send({ subject_token: userToken }), 'invalid_request', /subject_token_type/);
    for (const type of ['urn:ietf:params:oauth:token-type:saml2', 'urn:ietf:params:oauth:token-type:refresh_token', 'urn:ietf:params:oauth:token-type:id_token', 'urn:example:nonsense']) {
      expectRefused(await send({ subject_token: userToken, subject_token_type: type }), 'invalid_request', /unsupported subject_token_type/);
    }
  });

  test('an ID token or a refresh token as the subject token → invalid_request', async () => {
    const { tokens } = await loginAndRedeem(cast.appConfig, server.url, { scope: 'openid offline_access orders:read', extra: { resource: ordersApi, prompt: 'consent' } });
    expect(tokens.refresh_token).toBeDefined();
    expectRefused(await exchange(server, cast.service, tokens.id_token!, { resource: billingApi }), 'invalid_request', /not a valid access token/);
    expectRefused(await exchange(server, cast.service, tokens.id_token!, { resource: billingApi, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), 'invalid_request');
    expectRefused(await exchange(server, cast.service, tokens.refresh_token!, { resource: billingApi }), 'invalid_request', /not an active access token/);
    // the app's own refresh token, exchanged by the app itself, is no access token either
    const app = await addClient(server.store, { grant_types: ['authorization_code', 'refresh_token', tokenExchangeGrant], api_scopes: ['orders:read'] });
    const config = await discover(server.url, app.client_id, app.client_secret);
    const own = (await loginAndRedeem(config, server.url, { scope: 'openid offline_access orders:read', extra: { resource: ordersApi, prompt: 'consent' } })).tokens;
    expectRefused(await exchange(server, app, own.refresh_token!, { resource: billingApi }), 'invalid_request', /not an active access token/);
  });

  test('garbage, a forged JWT, a client credentials token → invalid_request', async () => {
    expectRefused(await exchange(server, cast.service, 'not-a-token', { resource: billingApi }), 'invalid_request', /not an active access token/);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ client_id: cast.app.client_id, scope: 'orders:read orders:write' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).setIssuer(server.url).setSubject(cast.aliceId).setAudience(ordersApi).setIssuedAt().setExpirationTime('1h')
      .sign(privateKey);
    expectRefused(await exchange(server, cast.service, forged, { resource: billingApi }), 'invalid_request', /not a valid access token from this issuer/);
    const machine = await addClient(server.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], api_scopes: ['orders:read'] });
    const cc = await post(server, '/token', machine, { grant_type: 'client_credentials', resource: ordersApi, scope: 'orders:read' });
    expect(cc.status).toBe(200);
    expectRefused(await exchange(server, cast.service, cc.body.access_token as string, { resource: billingApi }), 'invalid_request', /not an active access token|not issued for a user/);
  });

  test('an expired subject token, opaque or JWT → invalid_request', async () => {
    const shortService = await addService(server, { introspect_for: [shortApi, shortJwtApi], api_scopes: ['orders:read'] });
    const opaque = (await loginAndRedeem(cast.appConfig, server.url, { scope: 'openid orders:read', extra: { resource: shortApi } })).tokens;
    const jwt = (await loginAndRedeem(cast.appConfig, server.url, { scope: 'openid orders:read', extra: { resource: shortJwtApi } })).tokens;
    expect([opaque.expires_in, jwt.expires_in]).toEqual([1, 1]);
    expect(jwt.access_token.split('.')).toHaveLength(3);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expectRefused(await exchange(server, shortService, opaque.access_token, { resource: billingApi }), 'invalid_request', /not an active access token/);
    expectRefused(await exchange(server, shortService, jwt.access_token, { resource: billingApi }), 'invalid_request', /not a valid access token from this issuer/);
  });

  test('a revoked subject token → invalid_request', async () => {
    const tokens = await cast.signIn();
    const revoked = await post(server, '/token/revocation', cast.app, { token: tokens.access_token });
    expect(revoked.status).toBe(200);
    expectRefused(await exchange(server, cast.service, tokens.access_token, { resource: billingApi }), 'invalid_request', /not an active access token/);
  });

  test('a token for an API the client does not serve, issued to another client → invalid_request (a stolen token stays useless)', async () => {
    const billingService = await addService(server, { introspect_for: [billingApi], api_scopes: ['orders:read', 'billing:read'] });
    expectRefused(await exchange(server, billingService, userToken, { resource: billingApi }), 'invalid_request', /neither issued to this client nor for an API it is the resource server of/);
    const bystander = await addService(server, { api_scopes: ['orders:read'] });
    expectRefused(await exchange(server, bystander, userToken, { resource: billingApi }), 'invalid_request', /neither issued/);
  });

  test('actor_token is refused: the authenticated client is always the actor', async () => {
    const res = await exchange(server, cast.service, userToken, { resource: billingApi, actor_token: userToken, actor_token_type: accessTokenType });
    expectRefused(res, 'invalid_request');
    expect(res.body.error_description).toMatch(/actor_token/);
  });
});

describe('the target API and scopes', () => {
  test('an API the client may not have, or no API at all → invalid_target', async () => {
    expectRefused(await exchange(server, cast.service, userToken, { resource: hrApi }), 'invalid_target', /may not get tokens/);
    expectRefused(await exchange(server, cast.service, userToken, { resource: 'https://unknown.example.com' }), 'invalid_target');
    expectRefused(await exchange(server, cast.service, userToken), 'invalid_target');
    expectRefused(await exchange(server, cast.service, userToken, { resource: billingApi, audience: reportsApi }), 'invalid_target');
    // idport's own admin API takes client_credentials tokens only, whatever scopes the client holds
    const admin = await addService(server, { introspect_for: [ordersApi], api_scopes: ['orders:read', 'admin:users:read'] });
    expectRefused(await exchange(server, admin, userToken, { resource: `${server.url}/admin` }), 'invalid_target', /client_credentials tokens only/);
  });

  test('scopes beyond the subject token\'s, or beyond what the client may have at the API → invalid_scope', async () => {
    // billing:read: the service may have it at B, but the user never agreed to it
    expectRefused(await exchange(server, cast.service, userToken, { resource: billingApi, scope: 'billing:read' }), 'invalid_scope', /subject token does not carry billing:read/);
    expectRefused(await exchange(server, cast.service, userToken, { resource: billingApi, scope: 'orders:read billing:read' }), 'invalid_scope');
    // orders:write: in the subject token, but not the service's to have
    expectRefused(await exchange(server, cast.service, userToken, { resource: ordersApi, scope: 'orders:write' }), 'invalid_scope', /may not have orders:write/);
    // nothing in common at all
    const readOnly = await cast.signIn('openid orders:write');
    expectRefused(await exchange(server, cast.service, readOnly.access_token, { resource: billingApi }), 'invalid_scope');
  });

  test('an exchanged token cannot be exchanged into a wider one; re-exchanged, its actors nest', async () => {
    const first = await exchange(server, cast.service, userToken, { resource: billingApi });
    expect([first.status, first.body.scope]).toEqual([200, 'orders:read']);
    const token = first.body.access_token as string;
    // issued to the service itself: it may exchange it again, but only within orders:read
    expectRefused(await exchange(server, cast.service, token, { resource: ordersApi, scope: 'orders:read orders:write' }), 'invalid_scope');
    expectRefused(await exchange(server, cast.service, token, { resource: billingApi, scope: 'billing:read' }), 'invalid_scope');
    const second = await exchange(server, cast.service, token, { resource: ordersApi });
    expect([second.status, second.body.scope]).toEqual([200, 'orders:read']);
    const seen = await introspect(server, cast.service, second.body.access_token as string);
    expect(seen.body).toMatchObject({ active: true, sub: cast.aliceId, act: { sub: cast.service.client_id, act: { sub: cast.service.client_id } } });
  });
});

describe('delegation and impersonation', () => {
  test('a client not allowed to impersonate always gets act; one the operator allowed gets none, but never drops an existing act', async () => {
    const delegated = await exchange(server, cast.service, userToken, { resource: billingApi });
    expect((await introspect(server, cast.billing, delegated.body.access_token as string)).body.act).toEqual({ sub: cast.service.client_id });

    const gateway = await addService(server, { introspect_for: [ordersApi, billingApi], api_scopes: ['orders:read'], allow_impersonation: true });
    const impersonated = await exchange(server, gateway, userToken, { resource: billingApi });
    expect(impersonated.status).toBe(200);
    const seen = await introspect(server, cast.billing, impersonated.body.access_token as string);
    expect(seen.body).toMatchObject({ active: true, sub: cast.aliceId, client_id: gateway.client_id });
    expect(seen.body.act).toBeUndefined();

    // the delegated token (act: service) through the impersonating gateway keeps its act
    const onward = await exchange(server, gateway, delegated.body.access_token as string, { resource: billingApi });
    expect(onward.status).toBe(200);
    expect((await introspect(server, cast.billing, onward.body.access_token as string)).body.act).toEqual({ sub: cast.service.client_id });
  });

  test('the request cannot set act: unknown parameters are ignored, the actor is the authenticated client', async () => {
    const res = await exchange(server, cast.service, userToken, { resource: billingApi, act: JSON.stringify({ sub: 'someone-else' }), requested_subject: 'bob' });
    expect(res.status).toBe(200);
    const seen = await introspect(server, cast.billing, res.body.access_token as string);
    expect(seen.body).toMatchObject({ sub: cast.aliceId, act: { sub: cast.service.client_id } });
  });
});

describe('exchanged tokens die with the user\'s grant', () => {
  test('revoking the original token (and so its grant) revokes every token exchanged from it, and from those', async () => {
    const tokens = await cast.signIn();
    const first = await exchange(server, cast.service, tokens.access_token, { resource: billingApi });
    const second = await exchange(server, cast.service, first.body.access_token as string, { resource: billingApi });
    for (const t of [first, second]) expect((await introspect(server, cast.billing, t.body.access_token as string)).body.active).toBe(true);

    const revoked = await post(server, '/token/revocation', cast.app, { token: tokens.access_token });
    expect(revoked.status).toBe(200);
    for (const t of [first, second]) expect((await introspect(server, cast.billing, t.body.access_token as string)).body).toEqual({ active: false });
    // … and they cannot be exchanged any more either
    expectRefused(await exchange(server, cast.service, first.body.access_token as string, { resource: billingApi }), 'invalid_request');
  });

  test('ending the user\'s sign-ins (password change, reset-mfa, account removal) revokes exchanged tokens too', async () => {
    const tokens = await cast.signIn();
    const first = await exchange(server, cast.service, tokens.access_token, { resource: billingApi });
    const second = await exchange(server, cast.service, first.body.access_token as string, { resource: billingApi });
    const ended = await createSignIns(server.store).endAll(cast.aliceId);
    expect(ended.grants).toBeGreaterThan(0);
    for (const t of [first, second]) expect((await introspect(server, cast.billing, t.body.access_token as string)).body).toEqual({ active: false });
    userToken = (await cast.signIn()).access_token;
  });

  test('the service revoking its exchanged token leaves the user\'s sign-in alone', async () => {
    const tokens = await cast.signIn();
    const exchanged = await exchange(server, cast.service, tokens.access_token, { resource: billingApi });
    expect((await post(server, '/token/revocation', cast.service, { token: exchanged.body.access_token as string })).status).toBe(200);
    expect((await introspect(server, cast.billing, exchanged.body.access_token as string)).body.active).toBe(false);
    expect((await introspect(server, cast.service, tokens.access_token)).body.active).toBe(true);
  });
});

describe('an exchanged token never outlives its subject token', () => {
  /**
   * Runs `during` with the clock a second ahead from the moment the exchange has written its
   * derived grant: after it measured the lifetime the subject token has left, before the token
   * is saved (where oidc-provider would stamp iat from the clock).
   */
  async function withSecondTickingBeforeSave<T>(during: () => Promise<T>): Promise<T> {
    const grants = (server.idport.provider().Grant as unknown as { adapter: { upsert(...args: unknown[]): Promise<void> } }).adapter;
    const { upsert } = grants;
    const realNow = Date.now;
    grants.upsert = async function upsertThenTick(this: unknown, ...args: unknown[]) {
      await upsert.apply(this, args);
      Date.now = () => realNow() + 1000;
    };
    try {
      return await during();
    } finally {
      grants.upsert = upsert;
      Date.now = realNow;
    }
  }

  test('a second ticking between measuring its lifetime and saving it: exp ≤ the subject token\'s, opaque and JWT', async () => {
    const user = await cast.signIn();
    const subjectExp = (await introspect(server, cast.service, user.access_token)).body.exp as number;
    expect(subjectExp).toBeGreaterThan(Math.floor(Date.now() / 1000));

    const opaque = await withSecondTickingBeforeSave(() => exchange(server, cast.service, user.access_token, { resource: billingApi }));
    expect(opaque.status).toBe(200);
    const seen = await introspect(server, cast.billing, opaque.body.access_token as string);
    expect(seen.body.active).toBe(true);
    expect(seen.body.exp).toBeLessThanOrEqual(subjectExp);
    expect((seen.body.exp as number) - (seen.body.iat as number)).toBe(opaque.body.expires_in);

    const jwt = await withSecondTickingBeforeSave(() => exchange(server, cast.service, user.access_token, { resource: reportsApi }));
    expect(jwt.status).toBe(200);
    const payload = JSON.parse(Buffer.from((jwt.body.access_token as string).split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(payload.exp).toBeLessThanOrEqual(subjectExp);
    expect(payload.exp - payload.iat).toBe(jwt.body.expires_in);
  });
});

describe('a DPoP-bound subject token', () => {
  test('its own client must prove the key to exchange it; its API\'s backend, which verified the proof it came with, need not', async () => {
    const app = await addClient(server.store, { grant_types: ['authorization_code', 'refresh_token', tokenExchangeGrant], api_scopes: ['orders:read'] });
    const config = await discover(server.url, app.client_id, app.client_secret);
    const keyPair = await oidc.randomDPoPKeyPair();
    const { callback, verifier, state, nonce } = await authorize(config, server.url, { scope: 'openid orders:read', extra: { resource: ordersApi } });
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, undefined, { DPoP: oidc.getDPoPHandle(config, keyPair) });
    expect(tokens.token_type).toBe('dpop');

    const proof = async (keys: Awaited<ReturnType<typeof oidc.randomDPoPKeyPair>>) =>
      new SignJWT({ htm: 'POST', htu: `${server.url}/token`, jti: randomUUID() })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(keys.publicKey) })
        .setIssuedAt()
        .sign(keys.privateKey);
    expectRefused(await exchange(server, app, tokens.access_token, { resource: billingApi }), 'invalid_request', /DPoP-bound/);
    expectRefused(await exchange(server, app, tokens.access_token, { resource: billingApi }, { dpop: await proof(await oidc.randomDPoPKeyPair()) }), 'invalid_request', /DPoP-bound/);
    const own = await exchange(server, app, tokens.access_token, { resource: billingApi }, { dpop: await proof(keyPair) });
    expect([own.status, own.body.token_type]).toEqual([200, 'DPoP']);

    const byBackend = await exchange(server, cast.service, tokens.access_token, { resource: billingApi });
    expect([byBackend.status, byBackend.body.token_type]).toEqual([200, 'Bearer']);
  });
});
