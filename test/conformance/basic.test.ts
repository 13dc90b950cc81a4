/**
 * oidcc-basic-certification-test-plan (code flow, client_secret_basic): one test per module,
 * named as in the OpenID Foundation's conformance suite. See docs/conformance.md.
 */
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';

import {
  REDIRECT_URI,
  authRequest,
  authUrl,
  buffy,
  callbackError,
  drive,
  epoch,
  expectErrorPage,
  expectStandardClaimTypes,
  idportCli,
  login,
  open,
  redeem,
  registerClient,
  scopeClaims,
  sleep,
  startOp,
  tokenRequest,
  unsignedJwt,
  untilSecond,
  userinfo,
  verifyWithJwks,
  UserAgent,
  type Op,
} from './helpers.js';

let op: Op;
beforeAll(async () => {
  op = await startOp();
});
afterAll(() => op?.stop());

/** What the account holds for each standard claim, as userinfo should release it. */
function expectedClaims() {
  return {
    ...buffy.claims,
    sub: op.user.id,
    name: buffy.name,
    preferred_username: buffy.username,
    email: buffy.email,
    email_verified: true,
  } as Record<string, unknown>;
}

/** Userinfo holds exactly the claims of the scopes asked for (OIDC Core §5.4), with the account's values. */
function expectScopeClaims(info: Record<string, unknown>, scopes: (keyof typeof scopeClaims)[]) {
  const expected = expectedClaims();
  expectStandardClaimTypes(info);
  expect(info.sub).toBe(op.user.id);
  for (const [scope, names] of Object.entries(scopeClaims) as [keyof typeof scopeClaims, readonly string[]][]) {
    for (const name of names) {
      if (!scopes.includes(scope)) expect([name, info[name]]).toEqual([name, undefined]);
      else if (name === 'updated_at') expect(info.updated_at).toBe(Math.floor(op.user.updatedAt / 1000));
      else expect([name, info[name]]).toEqual([name, expected[name]]);
    }
  }
}

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
const validErrorDescription = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

async function scopeModule(scope: string, scopes: (keyof typeof scopeClaims)[]) {
  const { tokens, claims } = await login(op, { scope });
  const info = await userinfo(op, tokens.access_token);
  expect(info.status).toBe(200);
  expect(info.body!.sub).toBe(claims.sub);
  expectScopeClaims(info.body!, scopes);
}

describe('oidcc-basic-certification-test-plan', () => {
  test('oidcc-server', async () => {
    const flow = await drive(op, await authRequest(op.client, { scope: 'openid profile email' }));
    expect(flow.pages).toEqual(['login', 'consent']);
    // authorization response: code, state echoed, iss (RFC 9207, advertised in discovery)
    expect(flow.callback.origin + flow.callback.pathname).toBe(REDIRECT_URI);
    expect(flow.callback.searchParams.get('state')).toBe(flow.state);
    expect(flow.callback.searchParams.get('iss')).toBe(op.issuer);
    expect(op.meta.authorization_response_iss_parameter_supported).toBe(true);
    const code = flow.callback.searchParams.get('code')!;
    expect(code).toBeTruthy();

    // token endpoint, as the suite calls it (client_secret_basic, form-encoded)
    const res = await tokenRequest(op, op.client, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.cacheControl).toContain('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), id_token: expect.any(String) });
    expect(res.body.expires_in).toBeGreaterThan(0);

    // ID token: signature with the published keys, iss, aud, sub, nonce, times
    const idToken = res.body.id_token as string;
    const { payload } = await verifyWithJwks(op, idToken, { audience: op.client.client_id });
    expect(payload).toMatchObject({ iss: op.issuer, aud: op.client.client_id, sub: op.user.id, nonce: flow.nonce });
    const now = epoch();
    expect(payload.exp).toBeGreaterThan(now);
    expect(payload.iat).toBeLessThanOrEqual(now + 5);
    expect(payload.iat).toBeGreaterThan(now - 60);

    // userinfo with the access token: same sub
    const info = await userinfo(op, res.body.access_token as string);
    expect(info.status).toBe(200);
    expect(info.body!.sub).toBe(payload.sub);
  });

  test('oidcc-response-type-missing', async () => {
    const request = await authRequest(op.client, { response_type: undefined });
    const page = await open(authUrl(op, request.params));
    // redirected back (query, as no response_type says otherwise) with invalid_request
    expect(page.status).toBe(303);
    const back = new URL(page.location!);
    expect(back.origin + back.pathname).toBe(REDIRECT_URI);
    expect(callbackError({ callback: back })).toMatchObject({ error: 'invalid_request', state: request.state, code: null });
    expect(back.searchParams.get('error_description')).toMatch(/response_type/);
  });

  test('oidcc-idtoken-signature', async () => {
    const { tokens } = await login(op);
    const header = decodeProtectedHeader(tokens.id_token!);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toBeTruthy();
    await expect(verifyWithJwks(op, tokens.id_token!, { audience: op.client.client_id })).resolves.toBeTruthy();
    const jwks = (await (await fetch(op.meta.jwks_uri!)).json()) as { keys: { kid: string; alg: string; kty: string }[] };
    expect(jwks.keys.find((k) => k.kid === header.kid)).toMatchObject({ alg: 'RS256', kty: 'RSA' });
  });

  test('oidcc-idtoken-unsigned', async () => {
    // The suite skips this module unless discovery lists "none" (and it needs dynamic registration).
    expect(op.meta.id_token_signing_alg_values_supported).not.toContain('none');
    // A client cannot register for unsigned ID tokens ...
    const noneClient = { ...op.client, client_id: `${op.client.client_id}-none`, id_token_signed_response_alg: 'none' };
    await expect(op.server.idport.provider().Client.validate(noneClient as never)).rejects.toMatchObject({ error: 'invalid_client_metadata' });
    // ... and one written to the store behind the validation's back is refused, never served an unsigned token.
    await op.server.store.clients.upsert(noneClient);
    const page = await open(authUrl(op, (await authRequest(noneClient)).params));
    expectErrorPage(page, 'invalid_client');
  });

  test('oidcc-userinfo-get', async () => {
    const { tokens, claims } = await login(op, { scope: 'openid profile email' });
    const info = await userinfo(op, tokens.access_token, 'get');
    expect(info.status).toBe(200);
    expect(info.type).toMatch(/^application\/json/);
    expect(info.body!.sub).toBe(claims.sub);
    expectStandardClaimTypes(info.body!);
  });

  test('oidcc-userinfo-post-header', async () => {
    const { tokens, claims } = await login(op, { scope: 'openid profile email' });
    const info = await userinfo(op, tokens.access_token, 'post-header');
    expect(info.status).toBe(200);
    expect(info.type).toMatch(/^application\/json/);
    expect(info.body!.sub).toBe(claims.sub);
    expectStandardClaimTypes(info.body!);
  });

  test('oidcc-userinfo-post-body', async () => {
    const { tokens, claims } = await login(op, { scope: 'openid profile email' });
    const info = await userinfo(op, tokens.access_token, 'post-body');
    // supported (the suite would only warn if it were not)
    expect(info.status).toBe(200);
    expect(info.type).toMatch(/^application\/json/);
    expect(info.body!.sub).toBe(claims.sub);
    expectStandardClaimTypes(info.body!);
  });

  test('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
    const { flow, claims } = await login(op, { nonce: undefined });
    expect(flow.nonce).toBeUndefined();
    expect(claims.nonce).toBeUndefined();
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-scope-profile', () => scopeModule('openid profile', ['profile']));
  test('oidcc-scope-email', () => scopeModule('openid email', ['email']));
  test('oidcc-scope-address', () => scopeModule('openid address', ['address']));
  test('oidcc-scope-phone', () => scopeModule('openid phone', ['phone']));
  test('oidcc-scope-all', () => scopeModule('openid email phone address profile', ['profile', 'email', 'address', 'phone']));

  test('oidcc-alternate-happy-flow', async () => {
    // oidcc-scope-email with the scope reversed and the query parameters in reverse order
    const request = await authRequest(op.client, { scope: 'email openid' });
    const flow = await drive(op, request, { order: 'reversed' });
    expect([...authUrl(op, request.params, 'reversed').searchParams.keys()]).toEqual(Object.keys(request.params).sort().reverse());
    const { tokens, claims } = await redeem(op.config, flow);
    const info = await userinfo(op, tokens.access_token);
    expect(info.body!.sub).toBe(claims.sub);
    expectScopeClaims(info.body!, ['email']);
  });

  test.each(['page', 'popup'])('oidcc-display-%s', async (display) => {
    const { flow, claims } = await login(op, { display });
    expect(flow.pages).toContain('login');
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-prompt-login', async () => {
    const ua = new UserAgent();
    const first = await login(op, {}, { ua });
    const firstLoginBy = epoch(); // the first auth_time is at most this
    await untilSecond(firstLoginBy + 1);
    const second = await login(op, { prompt: 'login' }, { ua });
    // the user had to log in again, and auth_time moved forward
    expect(second.flow.pages[0]).toBe('login');
    expect(second.claims.sub).toBe(first.claims.sub);
    expect(second.claims.auth_time).toBeGreaterThan(first.claims.auth_time ?? firstLoginBy);
    expect(second.claims.auth_time).toBeGreaterThan(firstLoginBy);
  });

  test('oidcc-prompt-none-not-logged-in', async () => {
    const request = await authRequest(op.client, { prompt: 'none' });
    const flow = await drive(op, request);
    expect(flow.pages).toEqual([]);
    expect(flow.callback.origin + flow.callback.pathname).toBe(REDIRECT_URI);
    expect(callbackError(flow)).toEqual({ error: 'login_required', state: request.state, code: null, iss: op.issuer });
  });

  test('oidcc-prompt-none-logged-in', async () => {
    const ua = new UserAgent();
    const first = await login(op, {}, { ua });
    const second = await login(op, { prompt: 'none' }, { ua });
    expect(second.flow.pages).toEqual([]);
    expect(second.claims.sub).toBe(first.claims.sub);
    expect(second.claims.auth_time).toBe(first.claims.auth_time);
  });

  test('oidcc-max-age-1', async () => {
    const ua = new UserAgent();
    const first = await login(op, {}, { ua });
    const firstLoginBy = epoch();
    // auth_time is in whole seconds: wait until "now - auth_time > 1" certainly holds
    await untilSecond(firstLoginBy + 2);
    const second = await login(op, { max_age: '1' }, { ua });
    expect(second.flow.pages[0]).toBe('login');
    expect(second.claims.sub).toBe(first.claims.sub);
    // auth_time must be returned because of max_age, later than the first, and recent
    expect(typeof second.claims.auth_time).toBe('number');
    expect(second.claims.auth_time).toBeGreaterThan(first.claims.auth_time ?? firstLoginBy);
    expect(Math.abs(epoch() - second.claims.auth_time!)).toBeLessThanOrEqual(5);
  });

  test('oidcc-max-age-10000', async () => {
    const ua = new UserAgent();
    const first = await login(op, { max_age: '15000' }, { ua });
    expect(typeof first.claims.auth_time).toBe('number');
    const second = await login(op, { max_age: '10000' }, { ua });
    expect(second.flow.pages).toEqual([]);
    expect(second.claims.auth_time).toBe(first.claims.auth_time);
    expect(second.claims.sub).toBe(first.claims.sub);
  });

  test('oidcc-ensure-request-with-unknown-parameter-succeeds', async () => {
    const { flow, claims } = await login(op, { extra: 'foobar' });
    expect(flow.callback.searchParams.get('extra')).toBeNull();
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-id-token-hint', async () => {
    const ua = new UserAgent();
    const first = await login(op, {}, { ua });
    const second = await login(op, { prompt: 'none', id_token_hint: first.tokens.id_token! }, { ua });
    expect(second.flow.pages).toEqual([]);
    expect(second.claims.sub).toBe(first.claims.sub);
    expect(second.claims.auth_time).toBe(first.claims.auth_time);
  });

  test('oidcc-login-hint', async () => {
    const shown: string[] = [];
    const { flow, claims } = await login(op, { login_hint: buffy.email }, {
      // the user keeps what the login page pre-filled from the hint and types the password
      login: buffy.email,
      onPage: (page, html) => page === 'login' && shown.push(html),
    });
    expect(flow.pages[0]).toBe('login');
    expect(shown[0]).toContain(`value="${buffy.email}"`);
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-ui-locales', async () => {
    const { flow, claims } = await login(op, { ui_locales: 'se' });
    expect(flow.pages[0]).toBe('login');
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-claims-locales', async () => {
    const { tokens, claims } = await login(op, { claims_locales: 'se', scope: 'openid profile' });
    expect(claims.sub).toBe(op.user.id);
    expect((await userinfo(op, tokens.access_token)).status).toBe(200);
  });

  test('oidcc-ensure-request-with-acr-values-succeeds', async () => {
    // discovery lists no acr_values_supported, so the suite asks for "1 2"
    expect(op.meta.acr_values_supported).toBeUndefined();
    const { claims } = await login(op, { acr_values: '1 2' });
    expect(claims.sub).toBe(op.user.id);
    // idport asserts no authentication context class; the suite only warns when acr is absent
    expect(claims.acr).toBeUndefined();
  });

  test('oidcc-codereuse', async () => {
    const flow = await drive(op, await authRequest(op.client));
    const params = { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI };
    expect((await tokenRequest(op, op.client, params)).status).toBe(200);
    const again = await tokenRequest(op, op.client, params);
    expect(again.status).toBe(400);
    expect(again.type).toMatch(/^application\/json/);
    expect(again.body.error).toBe('invalid_grant');
    expect(String(again.body.error_description ?? '')).toMatch(validErrorDescription);
  });

  test('oidcc-codereuse-30seconds', async () => {
    const flow = await drive(op, await authRequest(op.client));
    const params = { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI };
    const first = await tokenRequest(op, op.client, params);
    expect(first.status).toBe(200);
    const accessToken = first.body.access_token as string;
    expect((await userinfo(op, accessToken)).status).toBe(200);

    await sleep(2000); // "after some time" (the suite waits 30 s; the behaviour does not depend on it)
    const again = await tokenRequest(op, op.client, params);
    expect(again.status).toBe(400);
    expect(again.type).toMatch(/^application\/json/);
    expect(again.body.error).toBe('invalid_grant');
    expect(String(again.body.error_description ?? '')).toMatch(validErrorDescription);

    // the replay revoked what the code had issued (RFC 6749 §4.1.2)
    const info = await userinfo(op, accessToken);
    expect(info.status).toBe(401);
    expect(info.wwwAuthenticate).toMatch(/^Bearer .*error="invalid_token"/);
    expect((await oidc.tokenIntrospection(op.config, accessToken)).active).toBe(false);
  });

  test('oidcc-ensure-registered-redirect-uri', async () => {
    const request = await authRequest(op.client, { redirect_uri: `${REDIRECT_URI}/${Math.random().toString(36).slice(2, 12)}` });
    expectErrorPage(await open(authUrl(op, request.params)), 'invalid_redirect_uri');
  });

  test('oidcc-ensure-post-request-succeeds', async () => {
    const request = await authRequest(op.client);
    const flow = await drive(op, request, { method: 'POST' });
    // the login page always (a new browser); the consent page only if buffy never agreed to this
    // before: what she agreed to is remembered across sign-ins, whatever happened to their grants
    expect(flow.pages[0]).toBe('login');
    const { claims } = await redeem(op.config, flow);
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-server-client-secret-post', async () => {
    // the same client, now authenticating with its secret in the form body
    expect(op.meta.token_endpoint_auth_methods_supported).toContain('client_secret_post');
    const flow = await drive(op, await authRequest(op.client, { scope: 'openid email' }));
    const res = await tokenRequest(op, op.client, { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI }, 'client_secret_post');
    expect(res.status).toBe(200);
    const { payload } = await verifyWithJwks(op, res.body.id_token as string, { audience: op.client.client_id });
    expect(payload).toMatchObject({ sub: op.user.id, nonce: flow.nonce });
    const info = await userinfo(op, res.body.access_token as string);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ sub: op.user.id, email: buffy.email });
  });

  test('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported', async () => {
    // discovery says request_uri is not supported, so it must be rejected as such
    expect(op.meta.request_uri_parameter_supported).toBe(false);
    const request = await authRequest(op.client);
    const { client_id, response_type, scope, redirect_uri } = request.params;
    const url = authUrl(op, {
      client_id: client_id!,
      redirect_uri: redirect_uri!,
      request_uri: `http://127.0.0.1:8080/requests/${Math.random().toString(36).slice(2)}#fragment`,
      response_type: response_type!,
      scope: scope!,
    });
    const page = await open(url);
    expect(page.status).toBe(303);
    const back = new URL(page.location!);
    expect(back.origin + back.pathname).toBe(REDIRECT_URI);
    expect(callbackError({ callback: back })).toMatchObject({ error: 'request_uri_not_supported', code: null });
  });

  test('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', async () => {
    expect(op.meta.request_parameter_supported ?? false).toBe(false);
    const request = await authRequest(op.client);
    const { client_id, response_type, scope, redirect_uri } = request.params;
    const url = authUrl(op, {
      client_id: client_id!,
      redirect_uri: redirect_uri!,
      request: unsignedJwt(request.params),
      response_type: response_type!,
      scope: scope!,
    });
    const page = await open(url);
    expect(page.status).toBe(303);
    const back = new URL(page.location!);
    expect(back.origin + back.pathname).toBe(REDIRECT_URI);
    expect(callbackError({ callback: back })).toMatchObject({ error: 'request_not_supported', code: null });
  });

  test('oidcc-claims-essential', async () => {
    const claimsRequest = JSON.stringify({ userinfo: { name: { essential: true } } });
    expect(op.meta.claims_parameter_supported).toBe(true);
    const consentPages: string[] = [];
    const { tokens, claims } = await login(op, { scope: 'openid', claims: claimsRequest }, {
      onPage: (page, html) => page === 'consent' && consentPages.push(html),
    });
    expect(consentPages[0]).toContain('name');
    const info = await userinfo(op, tokens.access_token);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ sub: claims.sub, name: buffy.name });
    // the name was asked for in userinfo only, so the ID token does not carry it
    expect(claims.name).toBeUndefined();
  });

  test('oidcc-ensure-request-object-with-redirect-uri', async () => {
    // the request object holds the registered redirect_uri, the query an unregistered one:
    // either the object is used, or (request objects unsupported) an invalid redirect_uri error page
    const request = await authRequest(op.client);
    const { client_id, response_type, scope } = request.params;
    const url = authUrl(op, {
      client_id: client_id!,
      redirect_uri: `${REDIRECT_URI}_invalid`,
      request: unsignedJwt(request.params),
      response_type: response_type!,
      scope: scope!,
    });
    expectErrorPage(await open(url), 'invalid_redirect_uri');
  });

  test('oidcc-refresh-token', async () => {
    expect(op.meta.scopes_supported).toContain('offline_access');
    expect(op.meta.grant_types_supported).toContain('refresh_token');
    // client 1: refresh works, the new ID token is about the same user
    const first = await login(op, { scope: 'openid offline_access', prompt: 'consent' });
    const refreshToken = first.tokens.refresh_token!;
    expect(refreshToken).toMatch(/^[\x20-\x7E]+$/);
    const refreshed = await oidc.refreshTokenGrant(op.config, refreshToken);
    expect(refreshed.access_token).not.toBe(first.tokens.access_token);
    const refreshedClaims = refreshed.claims();
    expect(refreshedClaims).toMatchObject({ iss: op.issuer, sub: first.claims.sub, aud: op.client.client_id });
    expect((await userinfo(op, refreshed.access_token)).body!.sub).toBe(first.claims.sub);

    // client 2's refresh token, used by client 1: 400 invalid_grant
    const client2 = await registerClient(op);
    const second = await login(op, { scope: 'openid offline_access', prompt: 'consent' }, { client: client2 });
    const misuse = await tokenRequest(op, op.client, { grant_type: 'refresh_token', refresh_token: second.tokens.refresh_token! });
    expect(misuse.status).toBe(400);
    expect(misuse.body.error).toBe('invalid_grant');
    // and it still works for its own client
    await expect(oidc.refreshTokenGrant(client2.config, second.tokens.refresh_token!)).resolves.toBeTruthy();
  });

  test('oidcc-ensure-request-with-valid-pkce-succeeds', async () => {
    const { flow, claims } = await login(op, {}, { pkce: true });
    expect(flow.params.code_challenge_method).toBe('S256');
    expect(claims.sub).toBe(op.user.id);
  });
});

describe('the certification client (docs/conformance.md, S1) and the defaults it does not weaken', () => {
  test('`idport clients add --pkce-optional` registers a client that may leave PKCE out', async () => {
    const databaseUrl = `sqlite:${join(op.server.dir, 'idport.db')}`;
    const run = await idportCli(databaseUrl, ['clients', 'add', '--name', 'OpenID certification', '--redirect-uri', REDIRECT_URI, '--pkce-optional', '--json']);
    expect({ code: run.code, stderr: run.stderr.replace(/^oidc-provider WARNING.*\n/m, '') }).toEqual({ code: 0, stderr: '' });
    const metadata = JSON.parse(run.stdout) as { client_id: string; client_secret: string };
    expect(metadata).toMatchObject({ require_pkce: false });
    const flow = await drive(op, await authRequest(metadata));
    const res = await tokenRequest(op, metadata, { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI });
    expect(res.status).toBe(200);

    const refused = await idportCli(databaseUrl, ['clients', 'add', '--name', 'SPA', '--redirect-uri', REDIRECT_URI, '--public', '--pkce-optional', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^idport: .*PKCE/m);
  });

  test('a client registered with the defaults still must use PKCE', async () => {
    const strict = await registerClient(op, { require_pkce: undefined });
    const request = await authRequest(strict.metadata);
    const page = await open(authUrl(op, request.params));
    expect(page.status).toBe(303);
    const back = new URL(page.location!);
    expect(callbackError({ callback: back })).toMatchObject({ error: 'invalid_request', state: request.state, code: null });
    expect(back.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  test('a code issued without PKCE cannot be redeemed with a code_verifier (no downgrade)', async () => {
    const flow = await drive(op, await authRequest(op.client));
    const code = flow.callback.searchParams.get('code');
    expect(code).toBeTruthy();
    const res = await tokenRequest(op, op.client, {
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: REDIRECT_URI,
      code_verifier: oidc.randomPKCECodeVerifier(),
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test('a public client cannot make PKCE optional', async () => {
    await expect(registerClient(op, { token_endpoint_auth_method: 'none', client_secret: undefined })).rejects.toMatchObject({
      error: 'invalid_client_metadata',
    });
  });
});
