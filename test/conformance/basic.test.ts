/**
 * oidcc-basic-certification-test-plan (code flow, client_secret_basic): one test per module,
 * named as in the OpenID Foundation's conformance suite; the token endpoint modules are in
 * basic-token.test.ts. Every flow goes through the suite's per-flow checks (helpers.ts, checks.ts).
 * See docs/conformance.md.
 */
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';

import {
  REDIRECT_URI,
  authRequest,
  authUrl,
  buffy,
  callbackError,
  checkFlow,
  drive,
  epoch,
  expectAuthorizationError,
  expectErrorPage,
  expectStandardClaimTypes,
  login,
  moduleHooks,
  open,
  redeem,
  scopeClaims,
  startOp,
  tokenRequest,
  unsignedJwt,
  untilSecond,
  userinfo,
  UserAgent,
  type Op,
} from './helpers.js';

let op: Op;
beforeAll(async () => {
  op = await startOp();
});
afterAll(() => op?.stop());

/** Asks for auth_time in the ID token, so that modules comparing it compare something. */
const authTimeRequested = { claims: JSON.stringify({ id_token: { auth_time: { essential: true } } }) };

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

async function scopeModule(scope: string, scopes: (keyof typeof scopeClaims)[]) {
  const { tokens, claims } = await login(op, { scope });
  const info = await userinfo(op, tokens.access_token);
  expect(info.status).toBe(200);
  expect(info.body!.sub).toBe(claims.sub);
  expectScopeClaims(info.body!, scopes);
}

describe('oidcc-basic-certification-test-plan', () => {
  const { flowless } = moduleHooks(() => op);

  test('oidcc-server', async () => {
    // the suite's client asks for "openid" only, so that no identity claim may be in the ID token
    const flow = await drive(op, await authRequest(op.client));
    expect(flow.params.scope).toBe('openid');
    expect(flow.state).toMatch(/^[A-Za-z0-9]{10}$/);
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
    // everything the suite checks on a flow (signature with the module's JWKS, claims, no
    // unrequested claims, code length, userinfo …), then what this module adds
    const { claims: payload, tokens } = await checkFlow(op, flow, res, op.client.client_id);
    expect(payload).toMatchObject({ iss: op.issuer, aud: op.client.client_id, sub: op.user.id, nonce: flow.nonce });
    const now = epoch();
    expect(payload.exp).toBeGreaterThan(now);
    expect(payload.iat).toBeLessThanOrEqual(now + 5);
    expect(payload.iat).toBeGreaterThan(now - 60);

    // userinfo with the access token: same sub
    const info = await userinfo(op, tokens.access_token);
    expect(info.status).toBe(200);
    expect(info.body!.sub).toBe(payload.sub);
  });

  test('oidcc-response-type-missing', async () => {
    const request = await authRequest(op.client, { response_type: undefined });
    const page = await open(authUrl(op, request.params));
    // redirected back (query, as no response_type says otherwise) with invalid_request
    expect(page.status).toBe(303);
    const back = new URL(page.location!);
    expectAuthorizationError(op, back, request, ['invalid_request', 'unsupported_response_type']);
    expect(callbackError({ callback: back })).toMatchObject({ error: 'invalid_request', state: request.state, code: null });
    expect(back.searchParams.get('error_description')).toMatch(/response_type/);
  });

  test('oidcc-idtoken-signature', async () => {
    // (login verified the signature with the one key matching kid/alg/use; this module adds:)
    const { tokens } = await login(op);
    const header = decodeProtectedHeader(tokens.id_token);
    expect(header.alg).toBe('RS256'); // EnsureIdTokenSignatureIsRS256
    expect(header.kid).toBeTruthy(); // EnsureIdTokenContainsKid
    const jwks = (await (await fetch(op.meta.jwks_uri!)).json()) as JSONWebKeySet;
    expect(jwks.keys.filter((k) => k.kid === header.kid)).toEqual([expect.objectContaining({ alg: 'RS256', kty: 'RSA', use: 'sig' })]);
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
    flowless('an error page, no response to the client');
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
    const { tokens, claims } = await redeem(op, flow);
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
    // a 128-character state, to check the error response does not corrupt it
    const request = await authRequest(op.client, { prompt: 'none' }, { stateLength: 128 });
    expect(request.state).toMatch(/^[A-Za-z0-9]{124}-\._~$/);
    const flow = await drive(op, request);
    expect(flow.pages).toEqual([]);
    expectAuthorizationError(op, flow.callback, request, ['interaction_required', 'login_required', 'account_selection_required', 'consent_required']);
    expect(callbackError(flow)).toEqual({ error: 'login_required', state: request.state, code: null, iss: op.issuer });
  });

  test('oidcc-prompt-none-logged-in', async () => {
    const ua = new UserAgent();
    // (the suite sends no auth_time request and compares auth_time "if present"; asking for it
    // makes the comparison happen)
    const first = await login(op, authTimeRequested, { ua });
    const second = await login(op, { prompt: 'none', ...authTimeRequested }, { ua });
    expect(second.flow.pages).toEqual([]);
    expect(second.claims.sub).toBe(first.claims.sub);
    expect(typeof first.claims.auth_time).toBe('number');
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
    // the suite compares auth_time only "if present", and idport sends it only when asked: ask for
    // it both times, so that the same authentication is really compared
    const first = await login(op, authTimeRequested, { ua });
    const second = await login(op, { prompt: 'none', id_token_hint: first.tokens.id_token, ...authTimeRequested }, { ua });
    expect(second.flow.pages).toEqual([]);
    expect(second.claims.sub).toBe(first.claims.sub);
    expect(typeof first.claims.auth_time).toBe('number');
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
    // the suite asks for every value discovery lists in acr_values_supported
    expect(op.meta.acr_values_supported).toEqual(['urn:idport:acr:1fa', 'urn:idport:acr:mfa']);
    const acrValues = op.meta.acr_values_supported!.join(' ');
    const { claims } = await login(op, { acr_values: acrValues });
    expect(claims.sub).toBe(op.user.id);
    // ValidateIdTokenACRClaimAgainstAcrValuesRequest: the acr is one of the requested values (a
    // password sign-in, which the request accepts: it does not ask for the multi-factor one only)
    expect(claims.acr).toBe('urn:idport:acr:1fa');
    expect(acrValues.split(' ')).toContain(claims.acr);
  });

  test('oidcc-ensure-registered-redirect-uri', async () => {
    const request = await authRequest(op.client, { redirect_uri: `${REDIRECT_URI}/${Math.random().toString(36).slice(2, 12)}` });
    expectErrorPage(await open(authUrl(op, request.params)), 'invalid_redirect_uri');
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-ensure-post-request-succeeds', async () => {
    const request = await authRequest(op.client);
    const flow = await drive(op, request, { method: 'POST' });
    // the login page always (a new browser); the consent page only if buffy never agreed to this
    // before: what she agreed to is remembered across sign-ins, whatever happened to their grants
    expect(flow.pages[0]).toBe('login');
    const { claims } = await redeem(op, flow);
    expect(claims.sub).toBe(op.user.id);
  });

  test('oidcc-ensure-post-request-succeeds (in the browser of a whole plan run)', async () => {
    // A certification run uses one browser for every module: by this module the user is signed
    // in (modules before it) and has agreed to the client. The suite's page posts the form from
    // its own site, so the browser sends none of our SameSite=Lax cookies with the POST; it sends
    // them with the top-level GET the 303 leads to, and the session is found there.
    const browser = new UserAgent();
    const earlier = await login(op, {}, { ua: browser });
    expect(browser.cookies.size).toBeGreaterThan(0);
    const flow = await drive(op, await authRequest(op.client), { ua: browser, method: 'POST', crossSite: true });
    expect(flow.pages).toEqual([]);
    const { claims } = await redeem(op, flow);
    expect(claims.sub).toBe(earlier.claims.sub);
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
    expectAuthorizationError(op, new URL(page.location!), { params: Object.fromEntries(url.searchParams) }, 'request_uri_not_supported');
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
    expectAuthorizationError(op, new URL(page.location!), { params: Object.fromEntries(url.searchParams) }, 'request_not_supported');
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
    flowless('an error page to screenshot, no redirect');
  });

  test('oidcc-ensure-request-with-valid-pkce-succeeds', async () => {
    const { flow, claims } = await login(op, {}, { pkce: true });
    expect(flow.params.code_challenge_method).toBe('S256');
    expect(claims.sub).toBe(op.user.id);
  });
});
