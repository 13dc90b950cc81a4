import { createI18n, localesDir } from '../../src/i18n/i18n.js';
import { allowRegisteredOrigins } from '../../src/http/cors.js';
import { routeLabels } from '../../src/http/metrics.js';
import { createPages } from '../../src/pages/create-pages.js';
import { deviceCodeError } from '../../src/pages/device.js';
import type { PageContext } from '../../src/pages/send-page.js';

const i18n = createI18n(localesDir);
const { sendPage, showErrorPage, provider } = createPages({ branding: { productName: 'Acme ID', primaryColor: '#0b57d0' }, i18n });
const csp = "default-src 'none'; frame-ancestors 'none'";

/** A context with what a page reads (languages) and writes (headers, type, body). */
function fakeContext(acceptLanguages: string[] = []) {
  const headers = new Map<string, string>([['content-security-policy', csp]]);
  const ctx = {
    type: '',
    body: undefined as unknown,
    state: { requestId: 'req-1' },
    headers,
    acceptsLanguages: () => acceptLanguages,
    vary: (field: string) => headers.set('vary', field),
    set: (field: string, value: string) => headers.set(field.toLowerCase(), value),
    response: { get: (field: string) => headers.get(field.toLowerCase()) },
  };
  return ctx satisfies PageContext;
}
const html = (ctx: { body: unknown }) => String(ctx.body);

describe('sendPage', () => {
  test('a page with forms: form-action narrowed to us and its targets, no-store, HTML in the negotiated language', () => {
    const ctx = fakeContext(['en']);
    sendPage(ctx, 'login', { interaction: '/interaction/abc', csrf: 't', clientName: 'App', login: '' }, { uiLocales: 'ko', formTargets: ['https://app.example/cb'] });
    expect(ctx.headers.get('content-security-policy')).toBe(`${csp}; form-action 'self' https://app.example`);
    expect(ctx.headers.get('cache-control')).toBe('no-store');
    expect(ctx.headers.get('vary')).toBe('Accept-Language');
    expect(ctx.type).toBe('html');
    expect(html(ctx)).toContain('<html lang="ko">');
    expect(html(ctx)).toContain('action="/interaction/abc/login"');
  });

  test('a page without forms keeps the CSP as it is; the error page leaves caching to its route', () => {
    const done = fakeContext();
    sendPage(done, 'device-done', { clientName: 'TV' });
    expect(done.headers.get('content-security-policy')).toBe(csp);
    expect(done.headers.get('cache-control')).toBe('no-store');
    const error = fakeContext();
    showErrorPage(error, { error: 'invalid_request', error_description: 'bad' });
    expect(error.headers.get('cache-control')).toBeUndefined();
    expect(html(error)).toContain('<code>req-1</code>');
  });

  test('the error page: English shows the description; other languages the messageKey, or the code\'s words plus the detail', () => {
    const out = { error: 'invalid_request', error_description: 'the form is too large' };
    const en = fakeContext(['en']);
    showErrorPage(en, out, { messageKey: 'errors.formTooLarge' });
    expect(html(en)).toContain('<p class="lead">the form is too large</p>');
    const ko = fakeContext(['ko']);
    showErrorPage(ko, out, { messageKey: 'errors.formTooLarge' });
    expect(html(ko)).toContain(i18n.t('ko', 'errors.formTooLarge'));
    const detail = fakeContext();
    provider.error(detail, out, { uiLocales: 'ko' });
    expect(html(detail)).toContain(i18n.t('ko', 'error.messages.invalid_request'));
    expect(html(detail)).toContain('<dd>the form is too large</dd>');
  });

  test('the logout page carries oidc-provider\'s form (action and xsrf) and lets it lead to the post-logout URI', () => {
    const ctx = fakeContext();
    provider.logout(ctx, { form: { action: 'https://id.example/session/end/confirm', xsrf: 'x"y' }, postLogoutRedirectUri: 'https://app.example/out' });
    expect(html(ctx)).toContain('<form id="op.logoutForm" method="post" action="https://id.example/session/end/confirm"><input type="hidden" name="xsrf" value="x&quot;y"/></form>');
    expect(ctx.headers.get('content-security-policy')).toContain("form-action 'self' https://app.example");
  });
});

test('deviceCodeError: wrong or missing code, cancelled, anything else', () => {
  expect(deviceCodeError(undefined)).toBeUndefined();
  expect(deviceCodeError({ name: 'NotFoundError', userCode: 'BCDF-GHJK' })).toBe('device.invalidCode');
  expect(deviceCodeError({ name: 'NoCodeError' })).toBe('device.invalidCode');
  expect(deviceCodeError({ name: 'AbortedError' })).toBe('device.cancelled');
  expect(deviceCodeError(new Error('boom'))).toBe('device.failed');
});

test('allowRegisteredOrigins: only an origin the client registered in web_origins', () => {
  expect(allowRegisteredOrigins({}, 'https://app.example', { web_origins: ['https://app.example'] })).toBe(true);
  expect(allowRegisteredOrigins({}, 'https://evil.example', { web_origins: ['https://app.example'] })).toBe(false);
  expect(allowRegisteredOrigins({}, 'https://app.example', {})).toBe(false);
});

test('routeLabels: interaction routes under the given prefix, a bounded set of labels', () => {
  const routeOf = routeLabels({ interactionPrefix: '/interaction' });
  expect(routeOf('/interaction/abc')).toBe('interaction');
  expect(routeOf('/interaction/abc/login')).toBe('interaction_login');
  expect(routeOf('/interaction/abc/consent')).toBe('interaction_consent');
  expect(routeOf('/interaction/abc/abort')).toBe('interaction_abort');
  expect(routeOf('/interactionX/abc')).toBe('other');
  expect(routeOf('/token')).toBe('token');
});
