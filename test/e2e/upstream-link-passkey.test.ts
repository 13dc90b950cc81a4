/**
 * Linking an upstream sign-in to an existing account by proving it with a passkey, in headless
 * Chromium with a virtual authenticator: an idport on http://localhost:PORT (test/helpers/
 * passkey-flow.ts) and a crafted upstream in this process (test/helpers/fake-oidc-upstream.ts)
 * that says the account's email, verified. The upstream is not trusted to link on that email, so
 * idport shows "Link … to your account" (src/interactions/upstream-login.ts): the account's
 * password or one of ITS passkeys. A passkey links and signs in with amr [hwk|swk, mfa, fed] and
 * acr mfa; another account's passkey links nothing and signs nobody in; an account without a
 * password is offered only its passkeys.
 */
import type { Page } from 'playwright-core';

import type { AccountRecord } from '../../src/storage/types.js';
import { createUpstreamRegistry } from '../../src/upstreams/upstream-registry.js';
import { startFakeOidcUpstream, type FakeUpstream } from '../helpers/fake-oidc-upstream.js';
import { addUser } from '../helpers/flow.js';
import { fetchOptions, getAssertion, startPasskeyEnv, type AuthorizationRequest, type PasskeyEnv, type Tab } from '../helpers/passkey-flow.js';

/** the upstream that needs the account proven (not trusted to link on a verified email) */
const LINKING = { id: 'crafted', name: 'Crafted IdP' };
/** the same provider under another id, which makes accounts just in time (test 3's account) */
const FIRST = { id: 'first', name: 'First IdP' };
const mfaAcr = 'urn:idport:acr:mfa';
const linkHeading = `Link ${LINKING.name} to your account`;
const passkeyButton = 'Use a passkey of this account';

const anna = { username: 'anna', password: 'anna has a long password', email: 'anna@example.com', name: 'Anna' };
const bert = { username: 'bert', password: 'bert has a long password', email: 'bert@example.com', name: 'Bert' };
const cleo = { username: 'cleo', password: 'cleo has a long password', email: 'cleo@example.com', name: 'Cleo' };

let env: PasskeyEnv;
let fake: FakeUpstream;

beforeAll(async () => {
  env = await startPasskeyEnv();
  fake = await startFakeOidcUpstream();
  const registry = createUpstreamRegistry(env.server.store.upstreams, undefined);
  const common = { issuer: fake.issuer, clientId: fake.clientId, clientSecret: fake.clientSecret };
  await registry.add({ ...LINKING, ...common, linkByVerifiedEmail: false });
  await registry.add({ ...FIRST, ...common, jit: true });
});

afterAll(async () => {
  await fake?.close();
  await env?.stop();
});

const link = (subject: string) => env.server.store.upstreamLinks.find(LINKING.id, subject);

/** A tab without passkey autofill on the login page (else its passkeys would sign in there at once). */
const newTab = () => env.newTab({ autofill: false });

/**
 * The client sends the tab to idport; the login page's upstream button sends it through the
 * upstream (which answers at once, as `user`) and back. Resolves once `landed` matches the URL.
 */
async function throughUpstream(tab: Tab, upstream: { name: string }, user: { sub: string; email: string }, request: AuthorizationRequest, landed: (url: URL) => boolean) {
  fake.user = { ...user, email_verified: true, name: 'Upstream User' };
  await tab.page.goto(request.url.href);
  const arrived = tab.page.waitForURL(landed, { waitUntil: 'load' });
  await tab.page.getByRole('link', { name: `Continue with ${upstream.name}`, exact: true }).click();
  await arrived;
}

/** Through the linking upstream to the link page: its URL is /interaction/<uid>/upstream-link. */
async function toLinkPage(tab: Tab, user: { sub: string; email: string }): Promise<{ request: AuthorizationRequest; base: string }> {
  const request = await env.authorizationRequest();
  await throughUpstream(tab, LINKING, user, request, (u) => u.pathname.endsWith('/upstream-link'));
  await expect(tab.page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(linkHeading);
  const url = new URL(tab.page.url());
  expect(url.origin).toBe(env.server.url);
  return { request, base: url.href.replace(/\/upstream-link$/, '') };
}

const passwordField = (page: Page) => page.locator('input[name="password"]');
const passkeyForm = (page: Page) => page.locator('form[action$="/upstream-link/passkey"]');

/**
 * What a browser does when the user picks a given passkey from its dialog: the page's options,
 * navigator.credentials.get() limited to `credentialId`, the answer posted by the page's own
 * passkey form (its csrf token, its cookies). Resolves with the status of that POST.
 */
async function provePasskey(page: Page, base: string, credentialId: string): Promise<number> {
  const options = await fetchOptions(page, `${base}/upstream-link/passkey/options`);
  const answer = await getAssertion(page, { ...options, allowCredentials: [{ id: credentialId, type: 'public-key' }] });
  expect(answer.id).toBe(credentialId);
  const form = passkeyForm(page);
  await form.locator('input[name="credential"]').evaluate((input, value) => {
    (input as unknown as { value: string }).value = value;
  }, JSON.stringify(answer));
  const posted = page.waitForResponse((res) => res.url() === `${base}/upstream-link/passkey` && res.request().method() === 'POST');
  await form.getByRole('button', { name: passkeyButton }).click();
  const status = (await posted).status();
  await page.waitForLoadState('load');
  return status;
}

test('password and passkey offered; the account\'s passkey links and signs in: amr [hwk, mfa, fed], acr mfa', async () => {
  const account = await addUser(env.server.store, anna);
  const tab = await newTab();
  await tab.enrol(account);
  const subject = 'anna-at-upstream';
  const { request } = await toLinkPage(tab, { sub: subject, email: anna.email });
  // both ways: the password form (its submit button primary) and the passkey button (secondary)
  expect(await passwordField(tab.page).count()).toBe(1);
  expect(await tab.page.getByRole('button', { name: 'Link and continue' }).isVisible()).toBe(true);
  const button = tab.page.getByRole('button', { name: passkeyButton });
  expect(await button.isVisible()).toBe(true);
  expect(await button.getAttribute('class')).toBe('secondary');
  expect(await link(subject)).toBeUndefined();

  // this tab's authenticator holds anna's passkey only: the browser's dialog answers with it
  const callback = await env.backAtClient(tab.page, () => button.click());
  expect(callback.searchParams.get('error')).toBeNull();
  const claims = await env.idToken(callback, request);
  expect(claims.sub).toBe(account.id);
  expect(claims.amr).toEqual(expect.arrayContaining(['fed', 'mfa']));
  expect((claims.amr as string[]).filter((m) => m === 'hwk' || m === 'swk')).toHaveLength(1);
  // Chromium's virtual authenticator is a single-device one: hwk
  expect(claims.amr).toEqual(['hwk', 'mfa', 'fed']);
  expect(claims.acr).toBe(mfaAcr);
  expect(await link(subject)).toMatchObject({ upstreamId: LINKING.id, subject, accountId: account.id });

  // from now on the upstream's subject is anna (no link page again); her passkey is a second
  // factor, so the upstream's sign-in is followed by it (prompt=login: she is signed in already)
  const next = await env.authorizationRequest({ prompt: 'login' });
  await throughUpstream(tab, LINKING, { sub: subject, email: anna.email }, next, (u) => /\/interaction\/[^/]+$/.test(u.pathname));
  await tab.page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
  const again = await env.backAtClient(tab.page, () => tab.page.getByRole('button', { name: 'Use a passkey' }).click());
  const later = await env.idToken(again, next);
  expect(later.sub).toBe(account.id);
  expect(later.amr).toEqual(['fed', 'hwk', 'mfa']);
  expect(later.acr).toBe(mfaAcr);
  expect(tab.problems).toEqual([]);
  await tab.close();
});

test('another account\'s passkey (in the same authenticator) is refused: no link, nobody signed in; the account\'s own one then links', async () => {
  const bertAccount = await addUser(env.server.store, bert);
  const cleoAccount = await addUser(env.server.store, cleo);
  const tab = await newTab();
  const cleoKey = await tab.enrol(cleoAccount, 'Cleo key');
  const bertKey = await tab.enrol(bertAccount, 'Bert key');
  const subject = 'cleo-at-upstream';
  const { request, base } = await toLinkPage(tab, { sub: subject, email: cleo.email });
  const bertKeyBefore = await env.server.store.factors.findPasskey(bertKey);
  expect(bertKeyBefore?.lastUsedAt).toBeNull();
  expect(await tab.page.getByRole('button', { name: passkeyButton }).isVisible()).toBe(true);

  // bert's passkey on cleo's link page: a good assertion, of the wrong account
  expect(await provePasskey(tab.page, base, bertKey)).toBe(200);
  expect(tab.page.url()).toBe(`${base}/upstream-link/passkey`);
  await expect(tab.page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(linkHeading);
  expect(await tab.page.locator('#link-error').textContent()).toBe('That passkey is not one of this account\'s.');
  // the page offers both ways again
  expect(await passwordField(tab.page).count()).toBe(1);
  expect(await tab.page.getByRole('button', { name: passkeyButton }).isVisible()).toBe(true);
  expect(await link(subject)).toBeUndefined();
  expect(await env.server.store.upstreamLinks.listByAccount(bertAccount.id)).toEqual([]);
  // nor is bert's passkey recorded as used (it signed nobody in)
  expect(await env.server.store.factors.findPasskey(bertKey)).toEqual(bertKeyBefore);
  expect(await env.server.store.upstreamLinks.listByAccount(cleoAccount.id)).toEqual([]);
  expect(env.site.hits.some((hit) => hit.searchParams.get('state') === request.state)).toBe(false);
  // nobody is signed in in this browser: the client's prompt=none gets login_required
  const probe = await tab.context.newPage();
  const silent = await env.authorizationRequest({ prompt: 'none' });
  const landed = probe.waitForURL((u) => u.href.startsWith(env.site.callback));
  await probe.goto(silent.url.href);
  await landed;
  expect(new URL(probe.url()).searchParams.get('error')).toBe('login_required');
  await probe.close();

  // the link still waits: cleo's own passkey, on the same page, links and signs in as cleo
  const callback = await env.backAtClient(tab.page, () => provePasskey(tab.page, base, cleoKey));
  const claims = await env.idToken(callback, request);
  expect(claims.sub).toBe(cleoAccount.id);
  expect(claims.amr).toEqual(['hwk', 'mfa', 'fed']);
  expect(claims.acr).toBe(mfaAcr);
  expect(await link(subject)).toMatchObject({ accountId: cleoAccount.id });
  expect(await env.server.store.upstreamLinks.listByAccount(bertAccount.id)).toEqual([]);
  expect(tab.problems).toEqual([]);
  await tab.close();
});

test('an account without a password (made by another upstream) is offered only its passkey, which links it', async () => {
  const email = 'dana@example.com';
  // dana's first sign-in, through the other upstream: an account made just in time, no password
  const tab = await newTab();
  const first = await env.authorizationRequest();
  await throughUpstream(tab, FIRST, { sub: 'dana-at-first', email }, first, (u) => u.href.startsWith(env.site.callback));
  const made = await env.idToken(new URL(tab.page.url()), first);
  expect(made.amr).toEqual(['fed']);
  await tab.close();
  const account = (await env.server.store.accounts.findById(made.sub!)) as AccountRecord;
  expect(account).toMatchObject({ email, emailVerified: true, passwordHash: '' });

  // later, in a browser without her session, with a passkey of hers
  const second = await newTab();
  await second.enrol(account, 'Dana key');

  // the linking upstream, another subject with her verified email: prove it, by passkey only
  const subject = 'dana-at-crafted';
  const { request } = await toLinkPage(second, { sub: subject, email });
  expect(await passwordField(second.page).count()).toBe(0);
  expect(await second.page.getByRole('button', { name: 'Link and continue' }).count()).toBe(0);
  const button = second.page.getByRole('button', { name: passkeyButton });
  expect(await button.isVisible()).toBe(true);
  expect(await button.getAttribute('class')).toBe('primary');
  expect(await second.page.getByText('This account signs in another way.').count()).toBe(0);

  const callback = await env.backAtClient(second.page, () => button.click());
  const claims = await env.idToken(callback, request);
  expect(claims.sub).toBe(account.id);
  expect(claims.amr).toEqual(['hwk', 'mfa', 'fed']);
  expect(claims.acr).toBe(mfaAcr);
  expect(await link(subject)).toMatchObject({ accountId: account.id });
  expect(second.problems).toEqual([]);
  await second.close();
});
