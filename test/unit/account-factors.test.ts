/**
 * The /account side of sign-in methods, without a server: the last-way-to-sign-in rule of the
 * factor service, passkey names, the QR code markup, the re-sign-in URL, and the three pages
 * rendered in English and Korean.
 */
import { createFactorService, FactorError } from '../../src/factors/factor-service.js';
import { createI18n, localesDir } from '../../src/i18n/i18n.js';
import { createPages } from '../../src/pages/create-pages.js';
import type { PageContext } from '../../src/pages/send-page.js';
import { accountLoginUrl } from '../../src/self-service/account-client.js';
import { passkeyName } from '../../src/self-service/passkey-routes.js';
import { qrCodeSvg } from '../../src/self-service/qr-code.js';
import type { CounterStore, FactorStore, PasskeyRecord } from '../../src/storage/types.js';

/** Just enough of a FactorStore for the passkey list (in memory). */
function passkeyStore(records: Pick<PasskeyRecord, 'id' | 'accountId'>[]): FactorStore {
  const list = records.map((r) => ({ ...r, name: r.id, createdAt: 0, lastUsedAt: null }) as PasskeyRecord);
  return {
    listPasskeys: async (accountId: string) => list.filter((p) => p.accountId === accountId),
    removePasskey: async (accountId: string, id: string) => {
      const at = list.findIndex((p) => p.accountId === accountId && p.id === id);
      return at >= 0 && list.splice(at, 1).length === 1;
    },
  } as unknown as FactorStore;
}

describe('removing a passkey (the factor service)', () => {
  const service = (records: Pick<PasskeyRecord, 'id' | 'accountId'>[]) =>
    createFactorService({ factors: passkeyStore(records), counters: {} as CounterStore, issuerName: 'idport' });

  test('an account without a password cannot remove its last passkey: a FactorError, nothing removed', async () => {
    const store = passkeyStore([{ id: 'only', accountId: 'a' }]);
    const factors = createFactorService({ factors: store, counters: {} as CounterStore, issuerName: 'idport' });
    const refused = factors.removePasskey('a', 'only', { hasPassword: false });
    await expect(refused).rejects.toBeInstanceOf(FactorError);
    await expect(refused).rejects.toThrow(/last way to sign in/);
    expect(await store.listPasskeys('a')).toHaveLength(1);
  });

  test('with another passkey, or a password, it can go; another account\'s passkey is not found', async () => {
    const factors = service([
      { id: 'p1', accountId: 'a' },
      { id: 'p2', accountId: 'a' },
      { id: 'q1', accountId: 'b' },
    ]);
    expect(await factors.removePasskey('a', 'p1', { hasPassword: false })).toBe(true);
    await expect(factors.removePasskey('a', 'p2', { hasPassword: false })).rejects.toBeInstanceOf(FactorError);
    expect(await factors.removePasskey('a', 'p2', { hasPassword: true })).toBe(true);
    expect(await factors.removePasskey('a', 'q1', { hasPassword: true })).toBe(false);
  });
});

describe('passkey names', () => {
  test('one line, trimmed, without control or direction-changing characters, at most 64 characters', () => {
    expect(passkeyName('  My\tphone \n')).toBe('My phone');
    expect(passkeyName('evil\u202egnp.exe')).toBe('evil gnp.exe');
    expect(passkeyName('\u0000\u0007')).toBe('');
    expect(passkeyName('키'.repeat(100))).toBe('키'.repeat(64));
    expect([...passkeyName('😀'.repeat(70))]).toHaveLength(64);
  });
});

describe('the QR code', () => {
  test('is SVG with presentation attributes only (nothing the CSP blocks), hidden from screen readers', async () => {
    const svg = String(await qrCodeSvg('otpauth://totp/idport:alice?secret=JBSWY3DPEHPK3PXP&issuer=idport'));
    expect(svg).toMatch(/^<svg aria-hidden="true" focusable="false" xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
    expect(svg).toMatch(/<\/svg>$/);
    expect(svg).not.toMatch(/style|script|href|\son\w+=/i);
  });
});

describe('the re-sign-in URL', () => {
  test('asks for a fresh sign-in (prompt=login) of the same user, back to /account/callback', () => {
    const url = new URL(accountLoginUrl('https://id.example.com', { prompt: 'login', loginHint: 'alice' }));
    expect(url.origin + url.pathname).toBe('https://id.example.com/auth');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: 'idport-account',
      prompt: 'login',
      login_hint: 'alice',
      redirect_uri: 'https://id.example.com/account/callback',
      code_challenge_method: 'S256',
    });
    const plain = new URL(accountLoginUrl('https://id.example.com'));
    expect(plain.searchParams.has('prompt')).toBe(false);
    expect(plain.searchParams.has('login_hint')).toBe(false);
  });
});

describe('the pages', () => {
  const { sendPage } = createPages({ branding: { productName: 'Acme ID', primaryColor: '#0b57d0' }, i18n: createI18n(localesDir) });
  const render = (page: 'account' | 'totp-setup' | 'recovery-codes', data: Record<string, unknown>, lang: string) => {
    const headers = new Map<string, string>([['content-security-policy', "default-src 'none'"]]);
    const ctx = {
      type: '',
      body: undefined as unknown,
      acceptsLanguages: () => [lang],
      vary: () => undefined,
      set: (field: string, value: string) => headers.set(field.toLowerCase(), value),
      response: { get: (field: string) => headers.get(field.toLowerCase()) },
    } satisfies PageContext;
    sendPage(ctx, page, data);
    expect(headers.get('cache-control')).toBe('no-store');
    return String(ctx.body);
  };
  const account = {
    account: { username: 'alice', name: null, email: null },
    apps: [],
    csrf: 'token',
    recent: true,
    passkeys: [{ id: 'cred-1', name: 'Phone <1>', created: '2025-01-02', lastUsed: null }],
    totp: true,
    recoveryCodesLeft: 7,
    upstreams: [{ upstreamId: 'acme', subject: 'sub<1>', name: 'Acme <SSO>', since: '2025-01-03', lastUsed: null }],
    notice: 'factors.passkeyAdded',
    error: undefined,
  };

  test.each(['en', 'ko'])('the account page lists the sign-in methods (%s)', (lang) => {
    const html = render('account', account, lang);
    expect(html).toContain(`<html lang="${lang}">`);
    expect(html).toContain('<strong>Phone &lt;1&gt;</strong>');
    expect(html).toContain('action="/account/passkeys/cred-1/rename"');
    expect(html).toContain('action="/account/passkeys/cred-1/remove"');
    expect(html).toContain('data-passkey="create" data-options="/account/passkeys/options"');
    expect(html).toContain('action="/account/totp/remove"');
    expect(html).toContain('role="status"');
    expect(html).toContain('<script src="/assets/passkey.js" defer></script>');
    expect(html).toMatch(lang === 'en' ? /Unused codes: 7\./ : /사용하지 않은 코드: 7개/);
    // linked providers, escaped, each with its unlink form
    expect(html).toContain('<strong>Acme &lt;SSO&gt;</strong>');
    expect(html).toContain('action="/account/upstreams/unlink"');
    expect(html).toContain('name="subject" value="sub&lt;1&gt;"');
    expect(html).not.toMatch(/factors\.|account\.security|upstreams\./);
    // An old sign-in: the page says a change needs a new sign-in; the passkey form just posts.
    const old = render('account', { ...account, recent: false, totp: false, notice: undefined }, lang);
    expect(old).not.toContain('data-passkey="create"');
    expect(old).toContain('href="/account/totp"');
  });

  test.each(['en', 'ko'])('the setup and recovery-code pages (%s)', async (lang) => {
    const setup = render('totp-setup', { csrf: 't', setup: 'otpauth://totp/x?secret=AB&a=1', setupMac: 'm', secret: 'ABCD EFGH', qr: await qrCodeSvg('otpauth://totp/x'), error: 'factors.totpWrongCode' }, lang);
    expect(setup).toContain('value="otpauth://totp/x?secret=AB&amp;a=1"');
    expect(setup).toContain('<svg aria-hidden="true"');
    expect(setup).toContain('aria-invalid="true"');
    expect(setup).toContain(lang === 'en' ? '<h1 id="page-title">Set up an authenticator app</h1>' : '<h1 id="page-title">인증 앱 설정</h1>');
    const codes = render('recovery-codes', { codes: ['AAAA-BBBB-CCCC-DDDD'], totpAdded: true }, lang);
    expect(codes).toContain('<li><code>AAAA-BBBB-CCCC-DDDD</code></li>');
    expect(codes).not.toMatch(/factors\./);
  });
});
