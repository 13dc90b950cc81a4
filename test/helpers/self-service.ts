/**
 * Driving "Forgot password?", reset links and /account over real HTTP (helpers shared by the
 * password-reset and account-change suites).
 */
import { csrfFrom, UserAgent } from './user-agent.js';

export const chromeOnLinux = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const firefoxOnWindows = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
export const safariOnIphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

/** A user agent that sends a browser's User-Agent header (what /account/sessions shows). */
export class NamedBrowser extends UserAgent {
  constructor(readonly userAgent: string) {
    super();
  }

  override request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.userAgent);
    return super.request(url, { ...init, headers });
  }
}

/** Signs in to /account through the login page; returns the browser and the page's CSRF token. */
export async function signInToAccount(url: string, user: { username: string; password: string }, ua = new UserAgent()) {
  let step = await ua.follow(`${url}/account`, url);
  if (step.url.pathname === '/account') return { ua, csrf: csrfFrom(await step.page!.text()) };
  const login = await step.page!.text();
  const res = await ua.postForm(new URL(`${step.url.pathname}/login`, url), { csrf: csrfFrom(login), login: user.username, password: user.password });
  step = await ua.follow(step.url, url, res);
  if (step.url.pathname !== '/account') throw new Error(`sign-in to /account ended at ${step.url.href}`);
  return { ua, csrf: csrfFrom(await step.page!.text()) };
}

export interface ForgotPage {
  ua: UserAgent;
  /** the form's action: /interaction/<uid>/forgot */
  action: URL;
  csrf: string;
  html: string;
}

/** Opens the login page (of a sign-in to /account, or `start`) and follows its "Forgot password?" link. */
export async function openForgot(url: string, ua = new UserAgent(), start = `${url}/account`): Promise<ForgotPage> {
  const login = await ua.follow(start, url);
  const html = await login.page!.text();
  const href = /<a href="([^"]+\/forgot)">/.exec(html)?.[1];
  if (!href) throw new Error('no "Forgot password?" link on the login page');
  const res = await ua.request(new URL(href, url));
  const page = await res.text();
  if (res.status !== 200) throw new Error(`forgot page ${res.status}: ${page.slice(0, 300)}`);
  return { ua, action: new URL(href, url), csrf: csrfFrom(page), html: page };
}

/** Posts an address on the forgot page (headers: e.g. X-Forwarded-For); the page that comes back and how long it took. */
export async function requestReset(page: ForgotPage, email: string, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await page.ua.request(page.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ csrf: page.csrf, email }).toString(),
  });
  const html = await res.text();
  return { status: res.status, html, ms: performance.now() - started };
}

/** Opens a reset link and, when it shows the form, sets `password` with it. */
export async function useResetLink(link: URL, password: string, ua = new UserAgent()) {
  const opened = await ua.request(link);
  const form = await opened.text();
  if (opened.status !== 200) return { opened: opened.status, form, status: opened.status, html: form };
  const res = await ua.postForm(new URL('/reset-password', link), { csrf: csrfFrom(form), token: link.searchParams.get('token')!, password });
  return { opened: opened.status, form, status: res.status, html: await res.text() };
}

/** The text of a page's first h1. */
export const headingOf = (html: string) => /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1];
