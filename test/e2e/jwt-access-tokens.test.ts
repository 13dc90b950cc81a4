/**
 * RFC 9068 JWT access tokens as an API sees them: verified with nothing but `jose` and idport's
 * published JWKS (no idport code), and by the example API (examples/api: its verify function and
 * its HTTP answers). Tokens come from real logins through the login and consent pages.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';

import { start as startApi, type RunningApi } from '../../examples/api/server.mjs';
import { BearerError, createVerifier, discoverJwksUri, type VerifyAccessToken } from '../../examples/api/verify.mjs';
import { addClient, addUser, discover, loginAndRedeem } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { UserAgent } from '../helpers/user-agent.js';

const api = 'https://api.example.com';
const otherApi = 'https://other.example.com';
const shortApi = 'https://short-lived.example.com';
const opaqueApi = 'https://opaque.example.com';

let server: TestServer | undefined;
let exampleApi: RunningApi | undefined;
let config: oidc.Configuration;
let clientId: string;
let aliceId: string;
let jwksUri: string;
let verify: VerifyAccessToken;
/** every path idport was asked for, in order */
const idportHits: string[] = [];
/** one browser-like session for every login here (consents pile up on one grant) */
const ua = new UserAgent();

/** A login for `resource`, asking for both API scopes (the client registered only read:things). */
async function tokensFor(resource: string, scope = 'openid profile email read:things write:things') {
  const { tokens } = await loginAndRedeem(config, server!.url, { ua, scope, extra: { resource } });
  return tokens;
}

async function rejection(promise: Promise<unknown>): Promise<BearerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BearerError);
  return err as BearerError;
}

beforeAll(async () => {
  server = await startTestServer();
  server.server.prependListener('request', (req) => idportHits.push(new URL(req.url ?? '/', server!.url).pathname));
  aliceId = (await addUser(server.store)).id;
  for (const [audience, extra] of [
    [api, {}],
    [otherApi, {}],
    [shortApi, { accessTokenTtl: 1 }],
    [opaqueApi, { tokenFormat: 'opaque' }],
  ] as const) {
    await server.store.apis.upsert({ audience, name: null, scopes: ['read:things', 'write:things'], tokenFormat: 'jwt', accessTokenTtl: null, ...extra });
  }
  const client = await addClient(server.store, { client_name: 'JWT test app', api_scopes: ['read:things'] });
  clientId = client.client_id;
  config = await discover(server.url, client.client_id, client.client_secret);
  jwksUri = await discoverJwksUri(server.url);
  verify = createVerifier({ issuer: server.url, audience: api, jwksUri });
  exampleApi = await startApi({ issuer: server.url, audience: api, port: 0 });
});

afterAll(async () => {
  await exampleApi?.close();
  await server?.stop();
});

describe('JWT access tokens (RFC 9068) checked by an API on its own', () => {
  test('verifies with only jose and the published JWKS: at+jwt, ES256, iss, aud, scope, client_id, sub, exp, iat, jti', async () => {
    const before = Math.floor(Date.now() / 1000);
    const tokens = await tokensFor(api);

    const jwks = (await (await fetch(jwksUri)).json()) as { keys: Record<string, unknown>[] };
    for (const key of jwks.keys) {
      // public keys only
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(secret);
    }
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(jwksUri)), {
      issuer: server!.url,
      audience: api,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(protectedHeader.alg).toBe('ES256');
    expect(jwks.keys.some((k) => k.kid === protectedHeader.kid)).toBe(true);
    expect(payload.iss).toBe(server!.url);
    expect(payload.aud).toBe(api);
    expect(payload.sub).toBe(aliceId);
    expect(payload.client_id).toBe(clientId);
    expect(typeof payload.jti).toBe('string');
    expect((payload.jti as string).length).toBeGreaterThanOrEqual(16);
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(payload.exp! - payload.iat!).toBe(3600);
    // Only the API scope the client registered, never the OpenID ones or personal data.
    expect(payload.scope).toBe('read:things');
    for (const personal of ['email', 'name', 'preferred_username', 'nonce']) expect(payload).not.toHaveProperty(personal);

    // The example API's verifier accepts it and reads the same claims.
    const verified = await verify(tokens.access_token, { requiredScopes: ['read:things'] });
    expect(verified.claims.sub).toBe(aliceId);
    expect(verified.scopes).toEqual(['read:things']);
  });

  test('the ID token stays RS256 and is never accepted as an access token', async () => {
    const tokens = await tokensFor(api);
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(jwksUri)), { issuer: server!.url, audience: clientId });
    expect(payload.sub).toBe(aliceId);
    // No typ at+jwt (and the wrong audience): the API refuses it.
    const err = await rejection(verify(tokens.id_token!));
    expect(err.status).toBe(401);
    expect(err.error).toBe('invalid_token');
  });

  test('scopes are limited to what the client registered: write:things is dropped, so POST /things gets 403 insufficient_scope', async () => {
    const tokens = await tokensFor(api);
    expect(tokens.scope).toBe('read:things');
    expect(decodeJwt(tokens.access_token).scope).toBe('read:things');

    const insufficient = await rejection(verify(tokens.access_token, { requiredScopes: ['write:things'] }));
    expect(insufficient.status).toBe(403);
    expect(insufficient.error).toBe('insufficient_scope');

    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const read = await fetch(`${exampleApi!.url}/things`, { headers: auth });
    expect(read.status).toBe(200);
    const body = (await read.json()) as { caller: unknown; things: unknown[] };
    expect(body.caller).toEqual({ sub: aliceId, client_id: clientId, scopes: ['read:things'] });
    expect(body.things.length).toBeGreaterThan(0);

    const write = await fetch(`${exampleApi!.url}/things`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Kettle' }),
    });
    expect(write.status).toBe(403);
    const challenge = write.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="write:things"');
    expect(((await write.json()) as { error: string }).error).toBe('insufficient_scope');
  });

  test('the example API rejects a token minted for another API', async () => {
    const tokens = await tokensFor(otherApi);
    expect(decodeJwt(tokens.access_token).aud).toBe(otherApi);
    const err = await rejection(verify(tokens.access_token, { requiredScopes: ['read:things'] }));
    expect(err.status).toBe(401);
    expect(err.error).toBe('invalid_token');
    expect(err.description).toMatch(/aud/);

    const res = await fetch(`${exampleApi!.url}/things`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  });

  test('the example API rejects an expired token (an API registered with a 1-second lifetime)', async () => {
    const tokens = await tokensFor(shortApi);
    const claims = decodeJwt(tokens.access_token);
    expect(claims.aud).toBe(shortApi);
    expect(claims.exp! - claims.iat!).toBe(1);
    expect(tokens.expires_in).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const shortVerify = createVerifier({ issuer: server!.url, audience: shortApi, jwksUri });
    const err = await rejection(shortVerify(tokens.access_token));
    expect(err.status).toBe(401);
    expect(err.error).toBe('invalid_token');
    expect(err.description).toBe('the access token has expired');
  });

  test('the example API rejects tokens signed by a key not in the JWKS, whatever kid they claim', async () => {
    const genuine = await tokensFor(api);
    const claims = decodeJwt(genuine.access_token) as JWTPayload;
    const realKid = decodeProtectedHeader(genuine.access_token).kid!;
    const { privateKey } = await generateKeyPair('ES256');
    for (const kid of ['not-a-key-of-idport', realKid]) {
      const forged = await new SignJWT({ ...claims, scope: 'read:things write:things' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .sign(privateKey);
      const err = await rejection(verify(forged, { requiredScopes: ['read:things'] }));
      expect(err.status).toBe(401);
      expect(err.error).toBe('invalid_token');
      const res = await fetch(`${exampleApi!.url}/things`, { headers: { authorization: `Bearer ${forged}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    // An unsigned token ("alg": "none") with the genuine claims.
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    expect((await rejection(verify(unsigned))).error).toBe('invalid_token');
  });

  test('an opaque-format API gets opaque tokens, which idport introspects for their client', async () => {
    const tokens = await tokensFor(opaqueApi);
    expect(tokens.access_token.split('.')).toHaveLength(1);
    const introspection = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspection).toMatchObject({
      active: true,
      aud: opaqueApi,
      client_id: clientId,
      sub: aliceId,
      scope: 'read:things',
      iss: server!.url,
      token_type: 'Bearer',
    });
    // The JWT-checking example API cannot use it.
    expect((await rejection(verify(tokens.access_token))).error).toBe('invalid_token');
  });

  test('the example API answers per RFC 6750 and never calls idport per request', async () => {
    const tokens = await tokensFor(api);
    const seen = idportHits.length;
    for (let i = 0; i < 5; i += 1) {
      const res = await fetch(`${exampleApi!.url}/things`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(res.status).toBe(200);
    }
    expect(idportHits.slice(seen)).toEqual([]);
    // Discovery and the JWKS were fetched once, when the API started (and by the verifier above).
    expect(idportHits.filter((p) => p === '/.well-known/openid-configuration').length).toBeLessThanOrEqual(3);

    // No token: 401 and a challenge without an error code (RFC 6750 §3.1).
    const none = await fetch(`${exampleApi!.url}/things`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+"$/);
    // A malformed header: 400 invalid_request.
    const malformed = await fetch(`${exampleApi!.url}/things`, { headers: { authorization: `Basic ${tokens.access_token}` } });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('www-authenticate')).toContain('error="invalid_request"');
    // Garbage: 401 invalid_token.
    const garbage = await fetch(`${exampleApi!.url}/things`, { headers: { authorization: 'Bearer abc.def.ghi' } });
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});
