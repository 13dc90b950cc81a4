/**
 * The second step of a sign-in with one-time codes, through real HTTP: a password, then a TOTP
 * or recovery code; what forces the step (the account has a factor, a require_mfa client,
 * acr_values), a signed-in session stepping up, and what the client gets (amr/acr in the ID token,
 * read with openid-client; unmet_authentication_requirements when no factor can meet the need).
 */
import * as oidc from 'openid-client';

import type { AccountRecord } from '../../src/storage/types.js';
import { enrolTotp, factorsOf, type TotpApp } from '../helpers/factors.js';
import {
  addClient,
  addUser,
  alice,
  authUrl,
  CALLBACK,
  csrfFrom,
  discover,
  openInteraction,
  postInteraction,
  RFC_VERIFIER,
  setup,
  UserAgent,
  type Client,
  type Env,
  type InteractionPage,
} from '../security/helpers.js';

const mfaAcr = 'urn:idport:acr:mfa';
const user = (name: string) => ({ username: name, password: `${name} has a long password`, email: `${name}@example.com`, name });

let env: Env;
let aliceAccount: AccountRecord;
let aliceApp: TotpApp;
let strictClient: Client;

beforeAll(async () => {
  const base = await setup();
  // First-party: no consent page between the sign-in and the client.
  const client = await addClient(base.server.store, { redirect_uris: [CALLBACK], first_party: true });
  env = { ...base, client, config: await discover(base.url, client.client_id, client.client_secret) };
  strictClient = await addClient(env.server.store, { redirect_uris: [CALLBACK], first_party: true, require_mfa: true });
  aliceAccount = (await env.server.store.accounts.findByLogin(alice.username))!;
  aliceApp = await enrolTotp(await factorsOf(env.server), aliceAccount);
});

afterAll(async () => {
  await env?.server.stop();
});

/** Opens the login page and posts the password; returns the page the browser is sent to next. */
async function password(change: Record<string, string> = {}, who: { username: string; password: string } = alice, ua?: UserAgent, client?: Client) {
  const page = await openInteraction(env, change, ua, client);
  const res = await postInteraction(env, page, 'login', { csrf: page.csrf, login: who.username, password: who.password });
  expect(res.status).toBe(303);
  return { page, res };
}

/** Follows on to the mfa page (GET /interaction/:uid, the second step waiting). */
async function mfaPage(page: InteractionPage) {
  const res = await page.ua.request(new URL(`/interaction/${page.uid}`, env.url));
  const html = await res.text();
  expect(res.status).toBe(200);
  expect(html).toContain('Confirm it is you');
  return { html, csrf: csrfFrom(html) };
}

function postCode(page: InteractionPage, csrf: string, code: string) {
  return page.ua.request(new URL(`/interaction/${page.uid}/mfa`, env.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, code }).toString(),
  });
}

/** Follows a finished interaction back to the client; returns the callback URL. */
async function backAtClient(page: InteractionPage, res: Response) {
  const step = await page.ua.follow(new URL(`/interaction/${page.uid}`, env.url), env.url, res);
  if (!step.left) throw new Error(`expected the client's callback, got a page: ${(await step.page!.text()).slice(0, 200)}`);
  return step.left;
}

async function idToken(callback: URL, client: Client = env.client) {
  const config = client === env.client ? env.config : await discover(env.url, client.client_id, client.client_secret);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: RFC_VERIFIER, expectedState: 'state-123', expectedNonce: 'nonce-123', idTokenExpected: true });
  return tokens.claims()!;
}

describe('password, then a one-time code', () => {
  test('a TOTP code: the mfa page (accessible code field), then amr [pwd, otp, mfa] and acr mfa in the ID token', async () => {
    const { page, res } = await password();
    // The password alone finishes nothing: the browser is sent back to the interaction page.
    expect(res.headers.get('location')).toBe(`/interaction/${page.uid}`);
    const { html, csrf } = await mfaPage(page);
    expect(html).toMatch(/<label for="code">Code from your authenticator app<\/label>/);
    const field = /<input id="code"[^>]*>/.exec(html)![0];
    expect(field).toContain('autocomplete="one-time-code"');
    expect(field).toContain('inputmode="numeric"');
    expect(html).not.toContain('name="password"');
    // Alice has no passkey: no passkey button, no script.
    expect(html).not.toContain('data-passkey');
    const claims = await idToken(await backAtClient(page, await postCode(page, csrf, aliceApp.code())));
    expect(claims.sub).toBe(aliceAccount.id);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
  });

  test('a recovery code (any case, with or without dashes) signs in once; the same code again is refused', async () => {
    const [first] = aliceApp.recoveryCodes;
    const one = await password();
    const { csrf } = await mfaPage(one.page);
    const claims = await idToken(await backAtClient(one.page, await postCode(one.page, csrf, first!.toLowerCase())));
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);

    const two = await password();
    const again = await postCode(two.page, (await mfaPage(two.page)).csrf, first!.replace(/-/g, ''));
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('That code is not right, or was already used. Try again.');
  });

  test('the mfa page in Korean', async () => {
    const { page } = await password({ ui_locales: 'ko' });
    const res = await page.ua.request(new URL(`/interaction/${page.uid}`, env.url));
    const html = await res.text();
    expect(html).toContain('<html lang="ko">');
    expect(html).toContain('본인 확인');
    expect(html).toContain('인증 앱의 코드');
    expect(html).toContain('복구 코드 사용');
  });
});

describe('what forces the second step, and what the client gets', () => {
  test('no factor and none needed: the password alone signs in (amr [pwd], the single-factor acr)', async () => {
    const bob = user('bob');
    await addUser(env.server.store, bob);
    const { page, res } = await password({}, bob);
    const claims = await idToken(await backAtClient(page, res));
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:idport:acr:1fa');
  });

  test('a require_mfa client, no factor on the account: unmet_authentication_requirements back at the client', async () => {
    const carol = user('carol');
    await addUser(env.server.store, carol);
    const { page, res } = await password({}, carol, undefined, strictClient);
    const back = await backAtClient(page, res);
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('error')).toBe('unmet_authentication_requirements');
    expect(back.searchParams.get('error_description')).toBe('this app requires a second factor; set one up on your account page first');
    expect(back.searchParams.get('state')).toBe('state-123');
    expect(back.searchParams.get('code')).toBeNull();
  });

  test('acr_values=urn:idport:acr:mfa, no factor on the account: unmet_authentication_requirements too', async () => {
    const dave = user('dave');
    await addUser(env.server.store, dave);
    const { page, res } = await password({ acr_values: mfaAcr }, dave);
    expect((await backAtClient(page, res)).searchParams.get('error')).toBe('unmet_authentication_requirements');
  });

  test('step-up: a password-only session asked for acr mfa goes straight to the second step (no password)', async () => {
    const erin = user('erin');
    const account = await addUser(env.server.store, erin);
    const ua = new UserAgent();
    const first = await password({}, erin, ua);
    expect((await idToken(await backAtClient(first.page, first.res))).acr).toBe('urn:idport:acr:1fa');
    const app = await enrolTotp(await factorsOf(env.server), account);

    const step = await ua.follow(authUrl(env, { acr_values: mfaAcr }), env.url);
    const html = await step.page!.text();
    expect(html).toContain('Confirm it is you');
    expect(html).not.toContain('name="password"');
    const page = { ua, uid: step.url.pathname.split('/').pop()!, csrf: csrfFrom(html), html, res: step.page!, base: step.url };
    const claims = await idToken(await backAtClient(page, await postCode(page, page.csrf, app.code())));
    expect(claims.sub).toBe(account.id);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);

    // The session is multi-factor now: the require_mfa client signs in without asking anything.
    const silent = await ua.follow(authUrl(env, {}, strictClient), env.url);
    expect(silent.left?.searchParams.get('code')).toBeTruthy();
    expect((await idToken(silent.left!, strictClient)).acr).toBe(mfaAcr);
  });
});
