/**
 * A browser's steps through a sign-in at an upstream, without a browser (UserAgent: real HTTP,
 * a cookie jar, manual redirects): the client sends it to idport's login page; the upstream's
 * button sends it to the upstream; the upstream (a stand-in that answers at once) sends it back to
 * idport's callback, which forwards it to the interaction's return route; a sign-in that worked
 * goes on to the client, which redeems its code. Each step is separate, so a test can tamper
 * with exactly one.
 */
import { decodeJwt, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';

import { UserAgent } from './user-agent.js';

/** The relying party: a first-party client (no consent page) with this redirect URI and secret. */
export interface RelyingParty {
  /** idport's issuer URL */
  url: string;
  client: { client_id: string; client_secret: string; redirect_uris: string[] };
}

export interface UpstreamPage {
  ua: UserAgent;
  uid: string;
  /** {issuer}/interaction/<uid> */
  base: string;
  /** the PKCE verifier of the client's authorization request */
  verifier: string;
}

const redirectUri = (rp: RelyingParty) => rp.client.redirect_uris[0]!;

/** The client's authorization request (code flow, PKCE S256), with `extra` parameters. */
export function clientAuthUrl(rp: RelyingParty, challenge: string, extra: Record<string, string> = {}): URL {
  const url = new URL(`${rp.url}/auth`);
  const params = { client_id: rp.client.client_id, response_type: 'code', scope: 'openid email profile', redirect_uri: redirectUri(rp), code_challenge: challenge, code_challenge_method: 'S256', state: 'rp-state', nonce: 'rp-nonce', ...extra };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

/** The client sends a browser to idport; it stops at the login page, which must offer `upstreamId`'s button. */
export async function openLogin(rp: RelyingParty, upstreamId: string, ua = new UserAgent()): Promise<UpstreamPage> {
  const verifier = oidc.randomPKCECodeVerifier();
  const step = await ua.follow(clientAuthUrl(rp, await oidc.calculatePKCECodeChallenge(verifier)), rp.url);
  if (!step.page) throw new Error(`expected the login page, left to ${step.left?.href}`);
  const html = await step.page.text();
  if (step.page.status !== 200) throw new Error(`login page ${step.page.status}: ${html.slice(0, 300)}`);
  if (!html.includes(`/upstream/${upstreamId}"`)) throw new Error(`the login page has no button for ${upstreamId}`);
  const uid = /\/interaction\/([^/]+)$/.exec(step.url.pathname)![1]!;
  return { ua, uid, base: `${rp.url}/interaction/${uid}`, verifier };
}

/** The upstream's button: idport sends the browser to the upstream's authorization endpoint. */
export async function toUpstream(page: UpstreamPage, upstreamId: string): Promise<URL> {
  const res = await page.ua.request(`${page.base}/upstream/${upstreamId}`);
  if (res.status !== 303) throw new Error(`the button answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return new URL(res.headers.get('location')!);
}

/** The stand-in upstream answers at once: where it sends the browser back (idport's callback). */
export async function answerAt(authorize: URL): Promise<URL> {
  const res = await fetch(authorize, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`the upstream answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return new URL(res.headers.get('location')!);
}

/**
 * Where idport's callback sends the browser on: the interaction's return route, by a page that
 * refreshes to it (a new navigation from idport's origin), or by a redirect.
 */
export async function forwardedTo(rp: RelyingParty, res: Response, callback: URL): Promise<URL> {
  if (res.status === 303) return new URL(res.headers.get('location')!, rp.url);
  const html = await res.text();
  const target = res.status === 200 ? /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(html)?.[1] : undefined;
  if (!target) throw new Error(`${callback.href} answered ${res.status}: ${html.slice(0, 500)}`);
  return new URL(target.replace(/&amp;/g, '&'), rp.url);
}

/** The browser comes back to the callback and goes on to the interaction's return route: that route's answer. */
export async function back(rp: RelyingParty, page: UpstreamPage, callback: URL): Promise<{ res: Response; returnUrl: URL }> {
  const returnUrl = await forwardedTo(rp, await page.ua.request(callback), callback);
  if (returnUrl.origin !== rp.url) throw new Error(`the callback sent the browser away, to ${returnUrl.href}`);
  return { res: await page.ua.request(returnUrl), returnUrl };
}

/** The whole round trip through the upstream: the return route's answer. */
export async function viaUpstream(rp: RelyingParty, page: UpstreamPage, upstreamId: string): Promise<Response> {
  return (await back(rp, page, await answerAt(await toUpstream(page, upstreamId)))).res;
}

/**
 * A sign-in that worked: the browser goes on to the client (no consent page: a first-party client),
 * which redeems its code. The ID token's claims and the whole token response (the email and
 * profile claims are at userinfo: userinfoOf).
 */
export async function atClient(rp: RelyingParty, page: UpstreamPage, res: Response, why = ''): Promise<{ claims: JWTPayload & Record<string, unknown>; tokens: Record<string, unknown> }> {
  if (res.status !== 303) throw new Error(`expected a sign-in, got ${res.status}: ${/role="alert"[^>]*>([^<]*)</.exec(await res.text())?.[1] ?? ''} ${why}`);
  const step = await page.ua.follow(page.base, rp.url, res);
  if (!step.left) throw new Error(`expected the client's callback, got a page ${step.page?.status}: ${(await step.page!.text()).slice(0, 300)}`);
  if (step.left.origin + step.left.pathname !== redirectUri(rp)) throw new Error(`left to ${step.left.href}`);
  const code = step.left.searchParams.get('code');
  if (!code) throw new Error(`no code: ${step.left.href}`);
  const res2 = await fetch(`${rp.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(rp.client.client_id)}:${encodeURIComponent(rp.client.client_secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri(rp), code_verifier: page.verifier }).toString(),
  });
  const tokens = (await res2.json()) as Record<string, unknown>;
  if (res2.status !== 200) throw new Error(`token request ${res2.status}: ${JSON.stringify(tokens)}`);
  return { claims: decodeJwt(String(tokens.id_token)), tokens };
}

/** idport's userinfo for the client's access token (where the email and profile claims are). */
export async function userinfoOf(rp: RelyingParty, tokens: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${rp.url}/me`, { headers: { authorization: `Bearer ${String(tokens.access_token)}` } });
  if (res.status !== 200) throw new Error(`userinfo ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** The client asks idport with prompt=none in this browser: no session there, so login_required. */
export async function expectNobodySignedIn(rp: RelyingParty, ua: UserAgent): Promise<void> {
  const step = await ua.follow(clientAuthUrl(rp, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', { prompt: 'none' }), rp.url);
  expect(step.left?.searchParams.get('error')).toBe('login_required');
}

/** The text of the login page's alert, if any. */
export const alertOf = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];
