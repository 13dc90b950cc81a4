/**
 * oidcc-dynamic-certification-test-plan, 8 of its 23 modules: oidcc-server-rotate-keys (a group of
 * its own, which the suite can run against idport today) and equivalents of the 7 modules about
 * redirect URIs and signing algorithms (oidcc-idtoken-unsigned's is in basic.test.ts; the
 * status of every module is in docs/conformance.md). The plan registers its clients dynamically;
 * idport has no registration endpoint, so clients are registered with the CLI
 * (`idport clients add`, which validates metadata with oidc-provider) or, for metadata the CLI has
 * no flag for, validated the same way and written to the store. These clients keep idport's
 * defaults, PKCE included.
 */
import { join } from 'node:path';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';

import { rotateKeys } from '../../src/keys/key-manager.js';
import { expectNoFindings, serverJwksFindings } from './checks.js';
import {
  REDIRECT_URI,
  authRequest,
  authUrl,
  beginModule,
  checkFlow,
  drive,
  expectErrorPage,
  idportCli,
  login,
  open,
  registerClient,
  startOp,
  tokenRequest,
  userinfo,
  verifyWithJwks,
  moduleHooks,
  type ClientMetadata,
  type Op,
} from './helpers.js';

let op: Op;
let databaseUrl: string;
beforeAll(async () => {
  op = await startOp();
  databaseUrl = `sqlite:${join(op.server.dir, 'idport.db')}`;
});
afterAll(() => op?.stop());

/** `idport clients add … --json` on the running server's store; returns the new client. */
async function cliClient(name: string, redirectUris: string[]) {
  const run = await idportCli(databaseUrl, ['clients', 'add', '--name', name, ...redirectUris.flatMap((u) => ['--redirect-uri', u]), '--json']);
  expect({ code: run.code, stdout: run.stdout.length > 0 }).toEqual({ code: 0, stdout: true });
  const metadata = JSON.parse(run.stdout) as ClientMetadata;
  expect(metadata.redirect_uris).toEqual(redirectUris);
  return { metadata };
}

async function jwks(): Promise<JSONWebKeySet> {
  const res = await fetch(op.meta.jwks_uri!);
  expect(res.status).toBe(200);
  return (await res.json()) as JSONWebKeySet;
}

/** The JWKS checks the suite runs before and after rotation (the same as when any module starts). */
async function expectValidJwks(set: JSONWebKeySet) {
  expectNoFindings(await serverJwksFindings(set));
}

describe('oidcc-dynamic-certification-test-plan (redirect URIs, keys, algorithms)', () => {
  const { flowless } = moduleHooks(() => op);

  test('oidcc-ensure-redirect-uri-in-authorization-request', async () => {
    const two = await cliClient('Two redirect URIs', [REDIRECT_URI, 'http://127.0.0.1:8080/other-callback']);
    const request = await authRequest(two.metadata, { redirect_uri: undefined }, { pkce: true });
    const page = await open(authUrl(op, request.params));
    expectErrorPage(page, 'invalid_request');
    expect(page.html).toContain('redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-redirect-uri-query-OK', async () => {
    const withQuery = `${REDIRECT_URI}?bar=foo`;
    const client = await cliClient('Query redirect URI', [withQuery]);
    const flow = await drive(op, await authRequest(client.metadata, { redirect_uri: withQuery }, { pkce: true }));
    // back at the registered URI with its query kept, plus the response
    expect(flow.callback.origin + flow.callback.pathname).toBe(REDIRECT_URI);
    expect(flow.callback.searchParams.get('bar')).toBe('foo');
    expect(flow.callback.searchParams.get('code')).toBeTruthy();
    expect(flow.callback.searchParams.get('state')).toBe(flow.state);
    // redeemed as the suite does (openid-client strips a redirect URI's query, so not through it)
    const res = await tokenRequest(op, client.metadata, {
      grant_type: 'authorization_code',
      code: flow.callback.searchParams.get('code')!,
      redirect_uri: withQuery,
      code_verifier: flow.verifier!,
    });
    // (CheckMatchingCallbackParameters: the registered query came back; and the rest of the flow)
    const { claims } = await checkFlow(op, flow, res, client.metadata.client_id);
    expect(claims).toMatchObject({ sub: op.user.id, nonce: flow.nonce });
  });

  test('oidcc-redirect-uri-query-mismatch', async () => {
    const client = await cliClient('Query redirect URI', [`${REDIRECT_URI}?bar=foo`]);
    const request = await authRequest(client.metadata, { redirect_uri: `${REDIRECT_URI}?foo=bar` }, { pkce: true });
    expectErrorPage(await open(authUrl(op, request.params)), 'invalid_redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-redirect-uri-query-added', async () => {
    const client = await cliClient('Plain redirect URI', [REDIRECT_URI]);
    const request = await authRequest(client.metadata, { redirect_uri: `${REDIRECT_URI}?foo=bar` }, { pkce: true });
    expectErrorPage(await open(authUrl(op, request.params)), 'invalid_redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-redirect-uri-regfrag', async () => {
    const before = (await op.server.store.clients.list()).length;
    const run = await idportCli(databaseUrl, ['clients', 'add', '--name', 'Fragment', '--redirect-uri', `${REDIRECT_URI}#foobar`, '--json']);
    // refused as a usage error, nothing printed on stdout, nothing stored
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^idport: invalid client: .*fragment/m);
    expect((await op.server.store.clients.list()).length).toBe(before);
    // the error oidc-provider's validation gives (what a registration endpoint would answer)
    await expect(
      op.server.idport.provider().Client.validate({ ...op.client, client_id: 'frag', redirect_uris: [`${REDIRECT_URI}#foobar`] } as never),
    ).rejects.toMatchObject({ error: 'invalid_redirect_uri' });
    flowless('registration only');
  });

  test('oidcc-idtoken-rs256', async () => {
    const client = await registerClient(op, { id_token_signed_response_alg: 'RS256', require_pkce: undefined });
    const { tokens, claims } = await login(op, {}, { client, pkce: true });
    const header = decodeProtectedHeader(tokens.id_token);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toBeTruthy();
    const { payload } = await verifyWithJwks(op, tokens.id_token, { audience: client.metadata.client_id });
    expect(payload.sub).toBe(claims.sub);
  });

  test('oidcc-userinfo-rs256', async () => {
    expect(op.meta.userinfo_signing_alg_values_supported).toContain('RS256');
    const client = await registerClient(op, { userinfo_signed_response_alg: 'RS256', require_pkce: undefined });
    const { tokens, claims } = await login(op, { scope: 'openid profile email' }, { client, pkce: true });
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
