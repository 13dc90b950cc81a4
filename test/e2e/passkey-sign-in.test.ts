/**
 * Passkeys at sign-in, in headless Chromium with a virtual authenticator (user-verifying, holding
 * discoverable credentials): alone on the login page (the button, and the username field's
 * autofill), and as the second step after a password. ID tokens are read with openid-client.
 */
import type { AccountRecord } from '../../src/storage/types.js';
import { addUser, alice } from '../helpers/flow.js';
import { startPasskeyEnv, submitPassword, type PasskeyEnv } from '../helpers/passkey-flow.js';

const carolUser = { username: 'carol', password: 'carol has a long password', email: 'carol@example.com', name: 'Carol' };
const mfaAcr = 'urn:idport:acr:mfa';

let env: PasskeyEnv;
let aliceAccount: AccountRecord;
let carolAccount: AccountRecord;

beforeAll(async () => {
  env = await startPasskeyEnv();
  aliceAccount = await addUser(env.server.store);
  carolAccount = await addUser(env.server.store, carolUser);
});

afterAll(async () => {
  await env?.stop();
});

describe('a passkey alone signs in (multi-factor: the passkey verifies the user)', () => {
  test('the "Sign in with a passkey" button, while the autofill request is pending: amr [hwk, mfa], acr mfa', async () => {
    const tab = await env.newTab();
    await tab.enrol(carolAccount);
    // The authenticator waits for a touch, so the autofill request stays open, as when the user
    // has not picked anything from the username field yet.
    await tab.presence(false);
    const request = await env.authorizationRequest();
    await tab.page.goto(request.url.href);
    for (let i = 0; i < 100 && tab.mediations.length === 0; i += 1) await tab.page.waitForTimeout(20);
    expect(tab.mediations).toEqual(['conditional']);
    expect(await tab.page.getByLabel('Username or email').getAttribute('autocomplete')).toBe('username webauthn');
    await tab.presence(true);
    const button = tab.page.getByRole('button', { name: 'Sign in with a passkey' });
    // The button cancels the pending autofill request (else the browser refuses a second one).
    const callback = await env.backAtClient(tab.page, () => button.click());
    expect(tab.mediations).toEqual(['conditional', 'optional']);
    expect(callback.searchParams.get('error')).toBeNull();
    const claims = await env.idToken(callback, request);
    expect(claims.sub).toBe(carolAccount.id);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect(tab.problems).toEqual([]);
    await tab.close();
  });

  test('autofill: the username field offers the passkey (conditional mediation) and it signs in', async () => {
    const tab = await env.newTab();
    await tab.enrol(carolAccount, 'Second key');
    const request = await env.authorizationRequest();
    // Nothing is clicked or typed: Chromium's virtual authenticator answers a conditional
    // request at once, as a user picking the passkey from the field's suggestions would.
    const callback = await env.backAtClient(tab.page, () => tab.page.goto(request.url.href));
    expect(tab.mediations).toEqual(['conditional']);
    const claims = await env.idToken(callback, request);
    expect(claims.sub).toBe(carolAccount.id);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect(tab.problems).toEqual([]);
    await tab.close();
  });

  test('a removed passkey stops working: the login page again, saying only that it did not work', async () => {
    const tab = await env.newTab({ autofill: false });
    const id = await tab.enrol(carolAccount, 'Lost key');
    expect(await env.server.store.factors.removePasskey(carolAccount.id, id)).toBe(true);
    const request = await env.authorizationRequest();
    await tab.page.goto(request.url.href);
    const answered = tab.page.waitForResponse((res) => res.url().endsWith('/passkey') && res.request().method() === 'POST');
    await tab.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    expect((await answered).status()).toBe(200);
    await expect(tab.page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in');
    expect(await tab.page.locator('#login-error').textContent()).toBe('That passkey did not work. Try again, or sign in with your password.');
    expect(env.site.hits.some((hit) => hit.searchParams.get('state') === request.state)).toBe(false);
    await tab.close();
  });
});

describe('a passkey as the second step after a password', () => {
  test('alice: password, then the mfa page, then her passkey: amr [pwd, hwk, mfa], acr mfa', async () => {
    const tab = await env.newTab({ autofill: false });
    await tab.enrol(aliceAccount);
    const request = await env.authorizationRequest();
    await tab.page.goto(request.url.href);
    await submitPassword(tab.page, alice);
    await tab.page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    await expect(tab.page.title()).resolves.toBe('Confirm it is you · idport');
    // No TOTP: no code field, only the passkey.
    expect(await tab.page.locator('input[name="code"]').count()).toBe(0);
    const callback = await env.backAtClient(tab.page, () => tab.page.getByRole('button', { name: 'Use a passkey' }).click());
    const claims = await env.idToken(callback, request);
    expect(claims.sub).toBe(aliceAccount.id);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe(mfaAcr);
    expect(tab.problems).toEqual([]);
    await tab.close();
  });

  test('the mfa page in Korean fits a phone screen', async () => {
    const tab = await env.newTab({ autofill: false });
    await tab.page.setViewportSize({ width: 360, height: 740 });
    const request = await env.authorizationRequest({ ui_locales: 'ko' });
    await tab.page.goto(request.url.href);
    await tab.page.getByLabel('사용자 이름 또는 이메일').fill(alice.username);
    await tab.page.getByLabel('비밀번호').fill(alice.password);
    await tab.page.getByRole('button', { name: '로그인', exact: true }).click();
    await tab.page.getByRole('heading', { name: '본인 확인' }).waitFor();
    await tab.page.getByRole('button', { name: '패스키 사용' }).waitFor();
    const width = await tab.page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(360);
    await tab.page.screenshot({ path: '/tmp/idport-mfa-mobile.png' });
    expect(tab.problems).toEqual([]);
    await tab.close();
  });
});
