/**
 * oidcc-rp-initiated-logout-certification-test-plan: one test per module, named as in the
 * OpenID Foundation's conformance suite. Every module first logs in normally, then sends the
 * browser to the end_session_endpoint. See docs/conformance.md.
 */
import { generateKeyPair, SignJWT } from 'jose';

import {
  POST_LOGOUT_REDIRECT_URI,
  authRequest,
  beginModule,
  drive,
  expectAuthorizationError,
  login,
  moduleHooks,
  startOp,
  UserAgent,
  type Op,
} from './helpers.js';
import { endSessionState, forgedIdTokenHint } from './suite-values.js';

let op: Op;
beforeAll(async () => {
  op = await startOp();
});
afterAll(() => op?.stop());

/**
 * The logout modules ask for a 128-character login state (alphanumerics ending in "-._~") to
 * check the OP does not corrupt it; the end-session state is the suite's mix of letters, digits
 * and RFC 6749 punctuation (endSessionState).
 */
const LOGIN_STATE_LENGTH = 128;

/** The browser goes to the end_session_endpoint with `params`. */
async function endSession(ua: UserAgent, params: Record<string, string>) {
  const url = new URL(op.meta.end_session_endpoint!);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await ua.request(url);
  return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type') ?? '', html: await res.text() };
}

/** The confirmation page's form: oidc-provider's hidden form plus our "Yes, sign me out" button. */
function logoutForm(html: string) {
  const form = /<form id="op\.logoutForm" method="post" action="([^"]+)">(.*?)<\/form>/s.exec(html);
  if (!form) throw new Error(`no logout form on the page: ${html.slice(0, 300)}`);
  const fields = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m) => [m[1]!, m[2]!]));
  expect(html).toMatch(/<button type="submit" form="op\.logoutForm" name="logout" value="yes"/);
  return { action: form[1]!.replace(/&amp;/g, '&'), fields };
}

/** The user answers "Yes, sign me out"; returns where the browser ends up. */
async function confirmLogout(ua: UserAgent, html: string) {
  const { action, fields } = logoutForm(html);
  const res = await ua.postForm(action, { ...fields, logout: 'yes' });
  return ua.follow(action, op.issuer, res);
}

/**
 * After logging out, the suite's second authorization (prompt=none) must come back with an error
 * that needs the user (CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface), checked
 * like every error response; idport says login_required.
 */
async function expectLoggedOut(ua: UserAgent) {
  const request = await authRequest(op.client, { prompt: 'none' }, { stateLength: LOGIN_STATE_LENGTH });
  const flow = await drive(op, request, { ua });
  const error = expectAuthorizationError(op, flow.callback, request, ['interaction_required', 'login_required', 'account_selection_required', 'consent_required']);
  expect(error.error).toBe('login_required');
}

/** Still logged in: prompt=none succeeds silently. */
async function expectStillLoggedIn(ua: UserAgent) {
  const flow = await drive(op, await authRequest(op.client, { prompt: 'none' }), { ua });
  expect(flow.pages).toEqual([]);
  expect(flow.callback.searchParams.get('code')).toBeTruthy();
}

/** The OP must not redirect to the client: it shows an error page. */
function expectNoRedirectErrorPage(page: { status: number; location: string | null; type: string; html: string }, message: RegExp) {
  expect(page.status).toBe(400);
  expect(page.location).toBeNull();
  expect(page.type).toMatch(/text\/html/);
  expect(page.html).toMatch(message);
}

/** The "you are signed out" page of the OP, no redirect to the client. */
async function expectSignedOutPage(step: Awaited<ReturnType<typeof confirmLogout>>) {
  expect(step.left).toBeUndefined();
  expect(step.page!.status).toBe(200);
  expect(step.url.pathname).toBe('/session/end/success');
  expect(await step.page!.text()).toContain('You are signed out');
}

async function loggedIn() {
  const ua = new UserAgent();
  const { flow, tokens } = await login(op, {}, { ua, stateLength: LOGIN_STATE_LENGTH });
  expect(flow.state).toMatch(/^[A-Za-z0-9]{124}-\._~$/);
  return { ua, idToken: tokens.id_token };
}

describe('oidcc-rp-initiated-logout-certification-test-plan', () => {
  const { flowless } = moduleHooks(() => op);

  test('oidcc-rp-initiated-logout-discovery-endpoint-verification', () => {
    expect(op.meta.end_session_endpoint).toBe(`${op.issuer}/session/end`);
    // (https for every endpoint once ISSUER is https: see config.test.ts)
    flowless('discovery only');
  });

  test('oidcc-rp-initiated-logout', async () => {
    const { ua, idToken } = await loggedIn();
    const state = endSessionState();
    expect(state).toMatch(/^[A-Za-z]{50}[0-9]{10}[\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]{30}$/);
    expect(state).not.toMatch(/[+ ;]/);
    const page = await endSession(ua, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state });
    expect(page.status).toBe(200);
    expect(page.html).toContain('Sign out?');
    const step = await confirmLogout(ua, page.html);
    expect(step.left).toBeDefined();
    expect(step.left!.origin + step.left!.pathname).toBe(POST_LOGOUT_REDIRECT_URI);
    // state comes back unchanged, and nothing else
    expect([...step.left!.searchParams]).toEqual([['state', state]]);
    await expectLoggedOut(ua);
  });

  test('oidcc-rp-initiated-logout-bad-post-logout-redirect-uri', async () => {
    const { ua, idToken } = await loggedIn();
    const page = await endSession(ua, {
      id_token_hint: idToken,
      post_logout_redirect_uri: 'http://127.0.0.1:8080/bad_post_logout_redirect_uri',
      state: endSessionState(),
    });
    expectNoRedirectErrorPage(page, /post_logout_redirect_uri not registered/);
    await expectStillLoggedIn(ua);
  });

  test('oidcc-rp-initiated-logout-modified-id-token-hint', async () => {
    const { ua, idToken } = await loggedIn();
    const [, payload] = idToken.split('.');
    const algNone = `${Buffer.from('{"alg": "none"}').toString('base64url')}.${payload}.`;
    const page = await endSession(ua, { id_token_hint: algNone, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state: endSessionState() });
    expectNoRedirectErrorPage(page, /could not validate id_token_hint/);
    await expectStillLoggedIn(ua);
  });

  test('oidcc-rp-initiated-logout-no-id-token-hint', async () => {
    const { ua } = await loggedIn();
    const page = await endSession(ua, { post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state: endSessionState() });
    // without a hint (or client_id) the post_logout_redirect_uri is ignored: the user is asked,
    // and signing out ends on the OP's own page, never on the client's
    expect(page.status).toBe(200);
    expect(page.location).toBeNull();
    expect(page.html).toContain('Sign out?');
    await expectSignedOutPage(await confirmLogout(ua, page.html));
    await expectLoggedOut(ua);
  });

  test('oidcc-rp-initiated-logout-no-params', async () => {
    const { ua } = await loggedIn();
    const page = await endSession(ua, {});
    expect(page.status).toBe(200);
    expect(page.html).toContain('Sign out?');
    await expectSignedOutPage(await confirmLogout(ua, page.html));
    await expectLoggedOut(ua);
  });

  test('oidcc-rp-initiated-logout-no-post-logout-redirect-uri', async () => {
    const { ua, idToken } = await loggedIn();
    const page = await endSession(ua, { id_token_hint: idToken, state: endSessionState() });
    expect(page.status).toBe(200);
    await expectSignedOutPage(await confirmLogout(ua, page.html));
    await expectLoggedOut(ua);
  });

  test('oidcc-rp-initiated-logout-no-state', async () => {
    const { ua, idToken } = await loggedIn();
    const page = await endSession(ua, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI });
    expect(page.status).toBe(200);
    const step = await confirmLogout(ua, page.html);
    expect(step.left!.origin + step.left!.pathname).toBe(POST_LOGOUT_REDIRECT_URI);
    expect([...step.left!.searchParams]).toEqual([]);
    await expectLoggedOut(ua);
  });

  test('oidcc-rp-initiated-logout-only-state', async () => {
    const { ua } = await loggedIn();
    const page = await endSession(ua, { state: endSessionState() });
    expect(page.status).toBe(200);
    await expectSignedOutPage(await confirmLogout(ua, page.html));
    await expectLoggedOut(ua);
  });

  test('oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri', async () => {
    const { ua, idToken } = await loggedIn();
    const page = await endSession(ua, {
      id_token_hint: idToken,
      post_logout_redirect_uri: `${POST_LOGOUT_REDIRECT_URI}?foo=bar`,
      state: endSessionState(),
    });
    expectNoRedirectErrorPage(page, /post_logout_redirect_uri not registered/);
    await expectStillLoggedIn(ua);
  });

  test('oidcc-rp-initiated-logout-bad-id-token-hint', async () => {
    const { ua } = await loggedIn();
    // the suite's forgery: an "ID token issued by the client" (iss = client_id, aud = issuer,
    // sub "SubjectID"), HS256 with the client secret; the OP must show an error, not redirect
    const forged = await forgedIdTokenHint(op.issuer, op.client);
    const page = await endSession(ua, { id_token_hint: forged, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state: endSessionState() });
    expectNoRedirectErrorPage(page, /id_token_hint/);
    await expectStillLoggedIn(ua);
  });
});

describe('beyond the logout plan', () => {
  beforeEach(() => beginModule(op));

  test('an id_token_hint for the right user and client, signed with a key not in the JWKS, is refused', async () => {
    const { ua, idToken } = await loggedIn();
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const { privateKey } = await generateKeyPair('RS256');
    const fake = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'conformance-suite-key' }).sign(privateKey);
    const page = await endSession(ua, { id_token_hint: fake, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state: endSessionState() });
    expectNoRedirectErrorPage(page, /could not validate id_token_hint/);
    await expectStillLoggedIn(ua);
  });

  test('the end_session_endpoint accepts POST as well as GET (RP-Initiated Logout 1.0 §2)', async () => {
    const { ua, idToken } = await loggedIn();
    const state = endSessionState();
    const posted = await ua.postForm(op.meta.end_session_endpoint!, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state });
    const page = await ua.follow(op.meta.end_session_endpoint!, op.issuer, posted);
    expect(page.page?.status).toBe(200);
    const html = await page.page!.text();
    expect(html).toContain('Sign out?');
    const step = await confirmLogout(ua, html);
    expect(step.left!.origin + step.left!.pathname).toBe(POST_LOGOUT_REDIRECT_URI);
    expect([...step.left!.searchParams]).toEqual([['state', state]]);
    await expectLoggedOut(ua);
  });
});
