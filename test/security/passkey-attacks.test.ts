/**
 * Attacks on passkey sign-in, with real assertions from Chromium's virtual authenticator: someone
 * else's passkey as a second factor, an answer replayed or moved to another sign-in, and an
 * answer made on another origin that shares the RP ID (a look-alike site on the same host).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { AccountRecord } from '../../src/storage/types.js';
import { enrolTotp, type TotpApp } from '../helpers/factors.js';
import { addUser, alice } from '../helpers/flow.js';
import { csrfFrom } from '../helpers/user-agent.js';
import { fetchOptions, getAssertion, postAsBrowser, startPasskeyEnv, submitPassword, type PasskeyEnv, type Tab } from '../helpers/passkey-flow.js';

const bobUser = { username: 'bob', password: 'bob has a long password', email: 'bob@example.com', name: 'Bob' };
const PASSKEY_FAILED = 'That passkey did not work. Try again, or sign in with your password.';
const alertOf = (html: string) => /<p class="alert" role="alert" id="[a-z]+-error">([^<]*)<\/p>/.exec(html)?.[1];

let env: PasskeyEnv;
let aliceAccount: AccountRecord;
let bobAccount: AccountRecord;
let aliceApp: TotpApp;
let bobTab: Tab;

beforeAll(async () => {
  env = await startPasskeyEnv();
  aliceAccount = await addUser(env.server.store);
  bobAccount = await addUser(env.server.store, bobUser);
  aliceApp = await enrolTotp(env.factors, aliceAccount);
  // Alice has a passkey of her own (elsewhere); bob's tab holds only bob's.
  const aliceTab = await env.newTab({ autofill: false });
  await aliceTab.enrol(aliceAccount);
  await aliceTab.close();
  bobTab = await env.newTab({ autofill: false });
  await bobTab.enrol(bobAccount);
});

afterAll(async () => {
  await env?.stop();
});

beforeEach(async () => {
  await bobTab.context.clearCookies();
});

/** Opens a fresh login page in bob's tab; returns its interaction URL and CSRF token. */
async function loginPage() {
  const request = await env.authorizationRequest();
  await bobTab.page.goto(request.url.href);
  const url = bobTab.page.url();
  return { request, url, csrf: csrfFrom(await bobTab.page.content()) };
}

test("bob's passkey is refused as alice's second factor; her TOTP code still works", async () => {
  const { request } = await loginPage();
  await submitPassword(bobTab.page, alice);
  await bobTab.page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
  const interaction = bobTab.page.url();
  const csrf = csrfFrom(await bobTab.page.content());
  // The options name only alice's passkeys; an attacker's page drops that list and answers with bob's.
  const options = await fetchOptions(bobTab.page, `${interaction}/mfa/passkey/options`);
  expect((options.allowCredentials as unknown[]).length).toBe(1);
  const answer = await getAssertion(bobTab.page, { ...options, allowCredentials: [] });
  const res = await postAsBrowser(bobTab.page, `${interaction}/mfa/passkey`, { csrf, credential: JSON.stringify(answer) });
  expect(res.status).toBe(200);
  expect(alertOf(await res.text())).toBe('That passkey did not work. Try again, or enter a code.');

  const code = await postAsBrowser(bobTab.page, `${interaction}/mfa`, { csrf, code: aliceApp.code() });
  expect(code.status).toBe(303);
  const callback = await env.backAtClient(bobTab.page, () => bobTab.page.goto(new URL(code.headers.get('location')!, env.server.url).href));
  const claims = await env.idToken(callback, request);
  expect(claims.sub).toBe(aliceAccount.id);
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
});

test('an answer is bound to its sign-in and good once: refused at another interaction, accepted at its own, then refused (replay)', async () => {
  const a = await loginPage();
  const answer = JSON.stringify(await getAssertion(bobTab.page, await fetchOptions(bobTab.page, `${a.url}/passkey/options`)));
  const b = await loginPage();
  expect(b.url).not.toBe(a.url);

  const elsewhere = await postAsBrowser(bobTab.page, `${b.url}/passkey`, { csrf: b.csrf, credential: answer });
  expect(elsewhere.status).toBe(200);
  expect(alertOf(await elsewhere.text())).toBe(PASSKEY_FAILED);

  const own = await postAsBrowser(bobTab.page, `${a.url}/passkey`, { csrf: a.csrf, credential: answer });
  expect(own.status).toBe(303);
  expect(own.headers.get('location')).toMatch(/\/auth\//);

  const replayed = await postAsBrowser(bobTab.page, `${a.url}/passkey`, { csrf: a.csrf, credential: answer });
  expect(replayed.status).toBe(200);
  expect(alertOf(await replayed.text())).toBe(PASSKEY_FAILED);
});

test('an answer made on another origin of the same host (same RP ID, real signature) is refused', async () => {
  const other: Server = createServer((_req, res) => res.end('<!doctype html><title>look-alike</title>'));
  await new Promise<void>((resolve) => other.listen(0, 'localhost', resolve));
  try {
    const otherOrigin = `http://localhost:${(other.address() as AddressInfo).port}`;
    const login = await loginPage();
    const options = await fetchOptions(bobTab.page, `${login.url}/passkey/options`);
    expect(options.rpId).toBe('localhost');
    // The look-alike site asks the authenticator itself, with our challenge.
    await bobTab.page.goto(`${otherOrigin}/`);
    const answer = await getAssertion(bobTab.page, options);
    const clientData = JSON.parse(Buffer.from(String((answer.response as { clientDataJSON: string }).clientDataJSON), 'base64url').toString()) as { origin: string };
    expect(clientData.origin).toBe(otherOrigin);
    const res = await postAsBrowser(bobTab.page, `${login.url}/passkey`, { csrf: login.csrf, credential: JSON.stringify(answer) });
    expect(res.status).toBe(200);
    expect(alertOf(await res.text())).toBe(PASSKEY_FAILED);
  } finally {
    other.close();
    other.closeAllConnections();
  }
});

test('a tampered answer (clientDataJSON changed after signing) is refused by the signature check', async () => {
  const login = await loginPage();
  const answer = await getAssertion(bobTab.page, await fetchOptions(bobTab.page, `${login.url}/passkey/options`));
  const response = answer.response as { clientDataJSON: string };
  const clientData = JSON.parse(Buffer.from(response.clientDataJSON, 'base64url').toString()) as Record<string, unknown>;
  const tampered = { ...answer, response: { ...response, clientDataJSON: Buffer.from(JSON.stringify({ ...clientData, crossOrigin: false, extra: 1 })).toString('base64url') } };
  const res = await postAsBrowser(bobTab.page, `${login.url}/passkey`, { csrf: login.csrf, credential: JSON.stringify(tampered) });
  expect(res.status).toBe(200);
  expect(alertOf(await res.text())).toBe(PASSKEY_FAILED);
});
