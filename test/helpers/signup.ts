/** Sign-up through the real pages (real HTTP), for the sign-up and email verification suites. */
import type { ConfigInput } from '../../src/config/schema.js';
import { openInteraction, type Env, type InteractionPage } from '../security/helpers.js';
import { csrfFrom, UserAgent } from './user-agent.js';

export const bob = { email: 'bob@example.com', name: 'Bob Builder', username: '', password: 'a long passphrase for bob' };
export type SignupForm = Partial<typeof bob>;

/** Settings for a server that lets people sign up and sends email to `smtpUrl`. */
export const signupSettings = (smtpUrl: string, signup: NonNullable<ConfigInput['signup']> = {}): Partial<ConfigInput> => ({
  signup: { enabled: true, ...signup },
  email: { smtpUrl },
});

/** An app's authorization request, then the login page's "Create an account" link: the sign-up page. */
export async function openSignup(env: Env, ua = new UserAgent()): Promise<InteractionPage> {
  const login = await openInteraction(env, {}, ua);
  const href = /<a href="([^"]+)">Create an account<\/a>/.exec(login.html)?.[1];
  if (href !== `/interaction/${login.uid}/signup`) throw new Error(`no sign-up link on the login page (${href})`);
  const res = await ua.request(new URL(href, env.url));
  const html = await res.text();
  if (res.status !== 200) throw new Error(`sign-up page ${res.status}: ${html.slice(0, 300)}`);
  return { ...login, html, res, csrf: csrfFrom(html) };
}

/** POSTs the sign-up form (bob's details, with `form` over them) with the page's CSRF token. */
export function postSignup(env: Env, page: InteractionPage, form: SignupForm = {}, headers: Record<string, string> = {}): Promise<Response> {
  return page.ua.request(new URL(`/interaction/${page.uid}/signup`, env.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ csrf: page.csrf, ...bob, ...form }).toString(),
  });
}

/** POSTs one of the check-your-email page's buttons (`continue` or `resend`). */
export function postEmailStep(env: Env, page: InteractionPage, step: 'continue' | 'resend'): Promise<Response> {
  return page.ua.postForm(new URL(`/interaction/${page.uid}/email/${step}`, env.url), { csrf: page.csrf });
}

/** The text of the first field error on the sign-up page, if any. */
export const fieldError = (html: string) => /class="field-error" id="[a-z]+-error">([^<]*)</.exec(html)?.[1];

/** The text of the page's alert or notice, if any. */
export const noticeText = (html: string) => /class="(?:alert|notice)" role="(?:alert|status)"[^>]*>([^<]*)</.exec(html)?.[1];
