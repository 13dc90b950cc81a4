/**
 * Pages in the reader's language (ui_locales, then Accept-Language, then English) and branded
 * from config (product name, logo, accent colour), on a real server.
 */
import { authorize } from '../helpers/flow.js';
import {
  addUser,
  afterEachHealthy,
  alice,
  get,
  openInteraction,
  postInteraction,
  setup,
  UserAgent,
  type Env,
  type InteractionPage,
} from '../security/helpers.js';

/** A user agent whose every request says which languages it prefers. */
class LanguageAgent extends UserAgent {
  constructor(private readonly acceptLanguage: string) {
    super();
  }

  override request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('accept-language', this.acceptLanguage);
    return super.request(url, { ...init, headers });
  }
}

const logoUrl = 'https://cdn.example.com/brand/logo.svg?v=2';
let plain: Env;
let branded: Env;

beforeAll(async () => {
  plain = await setup({ bruteForce: { freeFailures: 1 } });
  await addUser(plain.server.store, { username: 'bob', password: 'another long passphrase', email: 'bob@example.com', name: 'Bob' });
  branded = await setup({ branding: { productName: 'Acme ID', logoUrl, primaryColor: '#1a7f37' } });
});
afterAll(async () => {
  await plain?.server.stop();
  await branded?.server.stop();
});
afterEachHealthy(() => [plain?.server, branded?.server]);

const langOf = (html: string) => /<html lang="([^"]+)">/.exec(html)?.[1];
const alertOf = (html: string) => /<p class="alert" role="alert" id="login-error">([^<]*)<\/p>/.exec(html)?.[1];

/** Posts a login on the page and returns the re-rendered login page. */
async function failLogin(env: Env, page: InteractionPage, login: string, password: string) {
  const res = await postInteraction(env, page, 'login', { csrf: page.csrf, login, password });
  return { status: res.status, html: await res.text() };
}

/** Signs alice in (prompt=consent) and returns the consent page that follows. */
async function consentPage(env: Env, change: Record<string, string>) {
  const login = await openInteraction(env, { prompt: 'consent', ...change });
  const res = await postInteraction(env, login, 'login', { csrf: login.csrf, login: alice.username, password: alice.password });
  expect(res.status).toBe(303);
  const step = await login.ua.follow(new URL(`/interaction/${login.uid}/login`, env.url), env.url, res);
  expect(step.page?.status).toBe(200);
  return step.page!.text();
}

describe('the login page language', () => {
  test('ui_locales=ko: in Korean, <html lang="ko">', async () => {
    const { html } = await openInteraction(plain, { ui_locales: 'ko' });
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('<h1 id="page-title">로그인</h1>');
    expect(html).toContain('<label for="login">사용자 이름 또는 이메일</label>');
    expect(html).toContain('<label for="password">비밀번호</label>');
    expect(html).toContain('<button type="submit" class="primary">로그인</button>');
    expect(html).toContain('<title>로그인 · idport</title>');
    expect(html).toContain('<strong>Test App</strong>(으)로 계속하려면 로그인하세요');
    expect(html).not.toContain('Username or email');
  });

  test('Accept-Language: ko-KR: in Korean', async () => {
    const { html, res } = await openInteraction(plain, {}, new LanguageAgent('ko-KR,ko;q=0.9,en;q=0.5'));
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('사용자 이름 또는 이메일');
    expect(res.headers.get('vary')).toMatch(/accept-language/i);
  });

  test('by default, and for languages we do not have: English, exactly as before', async () => {
    for (const page of [await openInteraction(plain), await openInteraction(plain, { ui_locales: 'fr de' }, new LanguageAgent('fr-CA, de'))]) {
      expect(langOf(page.html)).toBe('en');
      expect(page.html).toContain('<h1 id="page-title">Sign in</h1>');
      expect(page.html).toContain('<p class="lead">to continue to <strong>Test App</strong></p>');
      expect(page.html).toContain('<label for="login">Username or email</label>');
      expect(page.html).toContain('<label for="password">Password</label>');
      expect(page.html).toContain('<title>Sign in · idport</title>');
    }
  });

  test('ui_locales beats Accept-Language', async () => {
    expect(langOf((await openInteraction(plain, { ui_locales: 'en' }, new LanguageAgent('ko'))).html)).toBe('en');
    expect(langOf((await openInteraction(plain, { ui_locales: 'xx ko-KR' }, new LanguageAgent('en'))).html)).toBe('ko');
  });

  test('the language holds for the whole interaction: a failed login re-renders in it', async () => {
    const page = await openInteraction(plain, { ui_locales: 'ko' });
    const { html } = await failLogin(plain, page, 'nobody-here', 'whatever password');
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('<label for="password">비밀번호</label>');
  });
});

describe('wrong credentials read the same in every language', () => {
  test('Korean: unknown user, wrong password and lockout show one identical message', async () => {
    const unknown = await failLogin(plain, await openInteraction(plain, { ui_locales: 'ko' }), 'nobody-at-all', 'some long password');
    const wrong = await failLogin(plain, await openInteraction(plain, { ui_locales: 'ko' }), alice.username, 'not the password');
    // bruteForce.freeFailures is 1 here: alice's next attempt meets the lockout
    const locked = await failLogin(plain, await openInteraction(plain, { ui_locales: 'ko' }), alice.username, alice.password);
    expect(unknown.status).toBe(200);
    expect(wrong.status).toBe(200);
    expect(locked.status).toBe(429);
    expect(alertOf(unknown.html)).toBe('사용자 이름 또는 비밀번호가 올바르지 않습니다.');
    expect(alertOf(wrong.html)).toBe(alertOf(unknown.html));
    expect(alertOf(locked.html)).toBe(alertOf(unknown.html));
    // the pages differ only in what the user typed and the per-form tokens
    const strip = (html: string) => html.replace(/value="[^"]*"/g, 'value=""').replace(/\/interaction\/[^/"]+/g, '/interaction/X');
    expect(strip(wrong.html)).toBe(strip(unknown.html));
  });

  test('English: the same sentence as ever, for unknown user and wrong password', async () => {
    const unknown = await failLogin(plain, await openInteraction(plain), 'nobody-else', 'some long password');
    const wrong = await failLogin(plain, await openInteraction(plain), 'bob', 'not the password');
    expect(alertOf(unknown.html)).toBe('The username or password is incorrect.');
    expect(alertOf(wrong.html)).toBe('The username or password is incorrect.');
  });
});

describe('other pages in Korean', () => {
  test('consent: heading, scope descriptions, Allow and Deny', async () => {
    const html = await consentPage(branded, { ui_locales: 'ko', scope: 'openid email' });
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('<h1 id="page-title">접근을 허용하시겠습니까?</h1>');
    expect(html).toContain(`<strong>Test App</strong>에서 회원님의 Acme ID 계정(${alice.username})에 접근하려고 합니다.`);
    expect(html).toContain('이메일 주소 보기 <code>email</code>');
    expect(html).toMatch(/<button type="submit" class="primary" autofocus>허용<\/button>/);
    expect(html).toMatch(/<button type="submit" class="secondary">거부<\/button>/);
  }, 20_000);

  test('consent in English is unchanged', async () => {
    const html = await consentPage(branded, { scope: 'openid email' });
    expect(html).toContain(`<strong>Test App</strong> wants to access your Acme ID account (${alice.username}).`);
    expect(html).toContain('See your email address <code>email</code>');
  }, 20_000);

  test('logout (ui_locales on /session/end): the question and both buttons', async () => {
    const { ua } = await authorize(branded.config, branded.url, { scope: 'openid' });
    const res = await ua.request(`${branded.url}/session/end?ui_locales=ko`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('<h1 id="page-title">로그아웃하시겠습니까?</h1>');
    expect(html).toContain('<p class="lead">Acme ID에서 로그아웃하시겠습니까?</p>');
    expect(html).toContain('>예, 로그아웃합니다</button>');
    expect(html).toContain('>아니요, 로그인 상태를 유지합니다</button>');
  });

  test('error pages follow Accept-Language, and the interaction language for its own errors', async () => {
    const missing = await get(`${plain.url}/no-such-page`, { 'accept-language': 'ko-KR' });
    expect(missing.status).toBe(404);
    const html404 = await missing.text();
    expect(langOf(html404)).toBe('ko');
    expect(html404).toContain('페이지를 찾을 수 없습니다');
    expect(html404).toContain('<code>not_found</code>');

    const page = await openInteraction(plain, { ui_locales: 'ko' });
    const res = await postInteraction(plain, page, 'login', { csrf: 'forged', login: 'x', password: 'y' });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('양식이 만료되었거나 이 사이트에서 보낸 것이 아닙니다.');
    expect(html).toContain('<code>invalid_request</code>');
  });

  test('an oidc-provider error page in Korean keeps its English description as a detail', async () => {
    const res = await get(`${plain.url}/auth?client_id=nope&response_type=code&scope=openid&ui_locales=ko`);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('등록되지 않은 앱이거나 앱의 등록 정보가 완전하지 않습니다.');
    expect(html).toContain('<dt>세부 정보</dt>');
  });

  test('the device code page', async () => {
    const res = await get(`${plain.url}/device`, { 'accept-language': 'ko' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(langOf(html)).toBe('ko');
    expect(html).toContain('<h1 id="page-title">기기 연결</h1>');
  });

  test('discovery lists the languages: ui_locales_supported', async () => {
    const meta = (await (await fetch(`${plain.url}/.well-known/openid-configuration`)).json()) as { ui_locales_supported?: string[] };
    expect(meta.ui_locales_supported).toEqual(expect.arrayContaining(['en', 'ko']));
  });
});

describe('branding from config', () => {
  test('/assets/theme.css carries the configured colour (and the default one by default)', async () => {
    const res = await fetch(`${branded.url}/assets/theme.css`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await res.text()).toContain('--accent: #1a7f37;');
    expect(await (await fetch(`${plain.url}/assets/theme.css`)).text()).toContain('--accent: #0b57d0;');
  });

  test('every page links the theme after the base stylesheet (no inline styles)', async () => {
    const { html } = await openInteraction(branded);
    expect(html).toMatch(/<link rel="stylesheet" href="\/assets\/idport\.css">\s*<link rel="stylesheet" href="\/assets\/theme\.css">/);
    expect(html).not.toMatch(/<style|style=/i);
  });

  test('the logo appears, its alt text the product name, and the CSP lets it load', async () => {
    const { html, res } = await openInteraction(branded);
    expect(html).toContain(`<img class="logo" src="${logoUrl}" alt="Acme ID">`);
    expect(html).toContain('<title>Sign in · Acme ID</title>');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("img-src 'self' data: https://cdn.example.com;");
    expect(csp).toMatch(/form-action 'self'/);
    const error = await get(`${branded.url}/no-such-page`);
    expect(error.headers.get('content-security-policy')).toContain("img-src 'self' data: https://cdn.example.com;");
  });

  test('without a logo: the product name in text, and images only from ourselves', async () => {
    const { html, res } = await openInteraction(plain);
    expect(html).toContain('<p class="brand">idport</p>');
    expect(html).not.toMatch(/<img/i);
    expect(res.headers.get('content-security-policy')).toContain("img-src 'self' data:;");
  });
});
