/**
 * oidcc-dynamic-certification-test-plan: the modules idport can run, each registering its client
 * at the registration endpoint as the suite does (RFC 7591, no initial access token: the run needs
 * `registration.mode` open, setting S4 in docs/conformance.md, and `registration.pkceOptional`,
 * since the suite sends no PKCE), plus oidcc-server-rotate-keys (a group of its own, no client).
 * The status of every module is in docs/conformance.md.
 */
import { join } from 'node:path';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';

import { rotateKeys } from '../../src/keys/key-manager.js';
import { expectNoFindings, refreshedIdTokenFindings, serverJwksFindings, tokenResponseFindings } from './checks.js';
import {
  REDIRECT_URI,
  authRequest,
  authUrl,
  beginModule,
  checkFlow,
  drive,
  expectErrorPage,
  expectTokenError,
  idportCli,
  login,
  open,
  refresh,
  sleep,
  startOp,
  tokenRequest,
  unsignedJwt,
  userinfo,
  verifyWithJwks,
  moduleHooks,
  type Op,
} from './helpers.js';
import { assertionTokenRequest, registerDynamically, registerRaw, rpKey, serveJwks, type RpKey } from './registration.js';

let op: Op;
let databaseUrl: string;
beforeAll(async () => {
  // S4: open registration, PKCE optional for the confidential clients the suite registers
  op = await startOp({ registration: { mode: 'open', pkceOptional: true, requestsPerIpPerMinute: 10_000 } });
  databaseUrl = `sqlite:${join(op.server.dir, 'idport.db')}`;
});
afterAll(() => op?.stop());

async function jwks(): Promise<JSONWebKeySet> {
  const res = await fetch(op.meta.jwks_uri!);
  expect(res.status).toBe(200);
  return (await res.json()) as JSONWebKeySet;
}

/** The JWKS checks the suite runs before and after rotation (the same as when any module starts). */
async function expectValidJwks(set: JSONWebKeySet) {
  expectNoFindings(await serverJwksFindings(set));
}

/** A whole login of a private_key_jwt client: drive the pages, redeem with a client assertion, check the flow. */
async function keyLogin(clientId: string, key: RpKey, extra: Record<string, string> = {}, aud?: string) {
  const flow = await drive(op, await authRequest({ client_id: clientId }, extra));
  const res = await assertionTokenRequest(op, clientId, key, { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code') ?? '', redirect_uri: REDIRECT_URI }, aud);
  return { flow, ...(await checkFlow(op, flow, res, clientId)) };
}

describe('oidcc-dynamic-certification-test-plan', () => {
  const { flowless } = moduleHooks(() => op);

  test('discovery for the plan: a registration endpoint, private_key_jwt, no alg none', () => {
    expect(op.meta.registration_endpoint).toBe(`${op.issuer}/reg`);
    expect(op.meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'private_key_jwt']));
    expect(op.meta.token_endpoint_auth_signing_alg_values_supported).toContain('RS256');
    expect(op.meta.id_token_signing_alg_values_supported).not.toContain('none');
    flowless('discovery only');
  });

  test('oidcc-server (private_key_jwt)', async () => {
    const key = await rpKey();
    const client = await registerDynamically(op, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.jwk] } }, key);
    expect(client.response).not.toHaveProperty('client_secret');
    expect(client.response).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', registration_access_token: expect.any(String) });
    const { flow, claims } = await keyLogin(client.metadata.client_id, key);
    expect(flow.pages).toEqual(['login', 'consent']);
    expect(claims.aud).toBe(client.metadata.client_id);
    // a secret is no way in for it, nor an assertion signed with another key
    const other = await rpKey();
    const flow2 = await drive(op, await authRequest({ client_id: client.metadata.client_id }), { ua: flow.ua });
    const forged = await assertionTokenRequest(op, client.metadata.client_id, { ...other, jwk: { ...other.jwk, kid: key.jwk.kid } }, { grant_type: 'authorization_code', code: flow2.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI });
    expect({ status: forged.status, error: forged.body.error }).toEqual({ status: 401, error: 'invalid_client' });
  });

  test('oidcc-ensure-client-assertion-with-iss-aud-succeeds', async () => {
    const key = await rpKey();
    const client = await registerDynamically(op, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.jwk] } }, key);
    // the assertion's audience is the issuer identifier, not the token endpoint
    const { claims } = await keyLogin(client.metadata.client_id, key, {}, op.issuer);
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-registration-jwks-uri', async () => {
    const key = await rpKey();
    const served = await serveJwks([key]);
    try {
      const client = await registerDynamically(op, { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: served.uri }, key);
      expect(client.response.jwks_uri).toBe(served.uri);
      expect(client.response).not.toHaveProperty('jwks');
      const { claims } = await keyLogin(client.metadata.client_id, key);
      expect(claims.aud).toBe(client.metadata.client_id);
      expect(served.fetches).toBeGreaterThanOrEqual(1);
    } finally {
      await served.close();
    }
  });

  test.each([
    ['oidcc-registration-logo-uri', { logo_uri: 'https://www.certification.openid.net/images/openid.png' }],
    ['oidcc-registration-policy-uri', { policy_uri: 'https://www.certification.openid.net/policy.html' }],
    ['oidcc-registration-tos-uri', { tos_uri: 'https://www.certification.openid.net/tos.html' }],
  ])('%s', async (_module, uri) => {
    const client = await registerDynamically(op, uri);
    // registered and returned as sent; the flow works (idport shows no client-supplied image or link)
    expect(client.response).toMatchObject(uri);
    const { flow } = await login(op, {}, { client });
    expect(flow.pages).toEqual(['login', 'consent']);
  });

  test('oidcc-idtoken-rs256', async () => {
    const client = await registerDynamically(op, { id_token_signed_response_alg: 'RS256' });
    const { tokens, claims } = await login(op, {}, { client });
    const header = decodeProtectedHeader(tokens.id_token);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toBeTruthy();
    const { payload } = await verifyWithJwks(op, tokens.id_token, { audience: client.metadata.client_id });
    expect(payload.sub).toBe(claims.sub);
  });

  test('oidcc-idtoken-unsigned (skipped by the suite: no none in discovery; a registration asking for it is refused)', async () => {
    expect(op.meta.id_token_signing_alg_values_supported).not.toContain('none');
    const before = (await op.server.store.clients.list()).length;
    const res = await registerRaw(op, { redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: 'none' });
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error: 'invalid_client_metadata' });
    expect((await op.server.store.clients.list()).length).toBe(before);
    flowless('registration only');
  });

  test('oidcc-userinfo-rs256', async () => {
    expect(op.meta.userinfo_signing_alg_values_supported).toContain('RS256');
    const client = await registerDynamically(op, { userinfo_signed_response_alg: 'RS256' });
    const { tokens, claims } = await login(op, { scope: 'openid profile email' }, { client });
    const res = await userinfo(op, tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/jwt/);
    expect(decodeProtectedHeader(res.text).alg).toBe('RS256');
    const { payload } = await verifyWithJwks(op, res.text, { audience: client.metadata.client_id });
    expect(payload).toMatchObject({ iss: op.issuer, aud: client.metadata.client_id, sub: claims.sub, name: 'Buffy Anne Summers' });
    expect(payload.nonce).toBeUndefined();
    // openid-client reads the signed response too
    const info = await oidc.fetchUserInfo(client.config, tokens.access_token, claims.sub);
    expect(info.sub).toBe(claims.sub);
  });

  test('oidcc-ensure-redirect-uri-in-authorization-request', async () => {
    const two = await registerDynamically(op, { redirect_uris: [REDIRECT_URI, 'http://127.0.0.1:8080/other-callback'] });
    const request = await authRequest(two.metadata, { redirect_uri: undefined });
    const page = await open(authUrl(op, request.params));
    expectErrorPage(page, 'invalid_request');
    expect(page.html).toContain('redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-redirect-uri-query-OK', async () => {
    const withQuery = `${REDIRECT_URI}?bar=foo`;
    const client = await registerDynamically(op, { redirect_uris: [withQuery] });
    expect(client.response.redirect_uris).toEqual([withQuery]);
    const flow = await drive(op, await authRequest(client.metadata, { redirect_uri: withQuery }));
    // back at the registered URI with its query kept, plus the response
    expect(flow.callback.origin + flow.callback.pathname).toBe(REDIRECT_URI);
    expect(flow.callback.searchParams.get('bar')).toBe('foo');
    expect(flow.callback.searchParams.get('code')).toBeTruthy();
    expect(flow.callback.searchParams.get('state')).toBe(flow.state);
    // redeemed as the suite does (openid-client strips a redirect URI's query, so not through it)
    const res = await tokenRequest(op, client.metadata, { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: withQuery });
    // (CheckMatchingCallbackParameters: the registered query came back; and the rest of the flow)
    const { claims } = await checkFlow(op, flow, res, client.metadata.client_id);
    expect(claims).toMatchObject({ sub: op.user.id, nonce: flow.nonce });
  });

  test('oidcc-redirect-uri-query-mismatch', async () => {
    const client = await registerDynamically(op, { redirect_uris: [`${REDIRECT_URI}?bar=foo`] });
    const request = await authRequest(client.metadata, { redirect_uri: `${REDIRECT_URI}?foo=bar` });
    expectErrorPage(await open(authUrl(op, request.params)), 'invalid_redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-redirect-uri-query-added', async () => {
    const client = await registerDynamically(op);
    const request = await authRequest(client.metadata, { redirect_uri: `${REDIRECT_URI}?foo=bar` });
    expectErrorPage(await open(authUrl(op, request.params)), 'invalid_redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-redirect-uri-regfrag', async () => {
    const before = (await op.server.store.clients.list()).length;
    const res = await registerRaw(op, { redirect_uris: [`${REDIRECT_URI}#foobar`], grant_types: ['authorization_code'], response_types: ['code'] });
    // RFC 7591 §3.2.2: 400 with invalid_redirect_uri, nothing registered
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_redirect_uri', error_description: expect.stringContaining('fragment') });
    expect((await op.server.store.clients.list()).length).toBe(before);
    // the operator's way is refused the same (exit 2, nothing on stdout, nothing stored)
    const run = await idportCli(databaseUrl, ['clients', 'add', '--name', 'Fragment', '--redirect-uri', `${REDIRECT_URI}#foobar`, '--json']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^idport: invalid client: .*fragment/m);
    expect((await op.server.store.clients.list()).length).toBe(before);
    flowless('registration only');
  });

  test('oidcc-ensure-request-object-with-redirect-uri', async () => {
    const client = await registerDynamically(op);
    const request = await authRequest(client.metadata);
    const { client_id, response_type, scope } = request.params;
    const url = authUrl(op, { client_id: client_id!, redirect_uri: `${REDIRECT_URI}_invalid`, request: unsignedJwt(request.params), response_type: response_type!, scope: scope! });
    expectErrorPage(await open(url), 'invalid_redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-refresh-token', async () => {
    const scope = 'openid offline_access';
    const grants = { grant_types: ['authorization_code', 'refresh_token'] };
    const client1 = await registerDynamically(op, grants);
    const first = await login(op, { scope, prompt: 'consent' }, { client: client1 });
    expect(first.tokens.refresh_token).toEqual(expect.any(String));
    await sleep(1000);
    const refreshed = await refresh(op, client1.metadata, first.tokens.refresh_token!, { scope, nonce: first.flow.nonce });
    expect(refreshed.res).toMatchObject({ status: 200, cacheControl: expect.stringContaining('no-store'), body: { token_type: 'Bearer' } });
    expect(refreshed.tokens.access_token).not.toBe(first.tokens.access_token);
    expectNoFindings(refreshedIdTokenFindings(first.claims, refreshed.claims!));

    const client2 = await registerDynamically(op, grants);
    const second = await login(op, { scope, prompt: 'consent' }, { client: client2, nonceLength: 43 });
    await sleep(1000);
    const refreshed2 = await refresh(op, client2.metadata, second.tokens.refresh_token!, { nonce: second.flow.nonce });
    expectNoFindings(refreshedIdTokenFindings(second.claims, refreshed2.claims!));
    const client2Token = refreshed2.tokens.refresh_token ?? second.tokens.refresh_token!;
    expectTokenError(op, await tokenRequest(op, client1.metadata, { grant_type: 'refresh_token', refresh_token: client2Token, scope }), 'invalid_grant');
  });

  test('oidcc-refresh-token-rp-key-rotation (not yet: a just-rotated key is trusted only once the cached jwks_uri is 60 s old)', async () => {
    const key = await rpKey();
    const served = await serveJwks([key]);
    try {
      const client = await registerDynamically(op, { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: served.uri, grant_types: ['authorization_code', 'refresh_token'] }, key);
      const { tokens } = await keyLogin(client.metadata.client_id, key, { scope: 'openid offline_access', prompt: 'consent' });
      expect(tokens.refresh_token).toEqual(expect.any(String));
      // before rotation, a refresh with the registered key works
      const before = await assertionTokenRequest(op, client.metadata.client_id, key, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      expectNoFindings(tokenResponseFindings(before, { idToken: 'optional' }));
      // the RP rotates: its jwks_uri now serves only a new key, and signs with it
      const next = await rpKey();
      served.keys = [next];
      const current = (before.body.refresh_token as string | undefined) ?? tokens.refresh_token!;
      const after = await assertionTokenRequest(op, client.metadata.client_id, next, { grant_type: 'refresh_token', refresh_token: current });
      // oidc-provider re-reads a client's jwks_uri only once its copy is stale (at least 60 s,
      // longer if the response's caching headers say so): the module's refresh is refused now
      expect({ status: after.status, error: after.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    } finally {
      await served.close();
    }
  });

  test('oidcc-server-rotate-keys', async () => {
    const original = await jwks();
    await expectValidJwks(original);
    const before = await login(op, {}, { pkce: true });

    // the operator rotates (what `idport keys rotate` does); the node picks it up on its next reload
    const fresh = await rotateKeys(op.server.store, 3600);
    expect(await op.server.idport.reloadKeys()).toBe(true);

    const rotated = await jwks();
    await expectValidJwks(rotated);
    const kids = rotated.keys.map((k) => k.kid);
    // a new signing key is published, and the old ones are still there
    for (const { kid } of fresh) expect(original.keys.map((k) => k.kid)).not.toContain(kid);
    expect(kids).toEqual(expect.arrayContaining([...fresh.map((k) => k.kid), ...original.keys.map((k) => k.kid!)]));

    // tokens signed before still verify; new ones are signed with the new RS256 key (the flow is
    // checked against the JWKS as fetched after the rotation, as the module's start() does)
    await expect(verifyWithJwks(op, before.tokens.id_token, { audience: op.client.client_id })).resolves.toBeTruthy();
    await beginModule(op);
    const after = await login(op, {}, { pkce: true });
    expect(decodeProtectedHeader(after.tokens.id_token).kid).toBe(fresh.find((k) => k.alg === 'RS256')!.kid);
    await expect(verifyWithJwks(op, after.tokens.id_token, { audience: op.client.client_id })).resolves.toBeTruthy();
    expect(after.claims.sub).toBe(before.claims.sub);
  });
});
