/**
 * Shared helpers for the attack suite (test/security): a real idport on a temp store, raw HTTP
 * requests that never follow redirects, and the login/consent pages driven by hand so each test
 * can tamper with exactly one thing.
 */
import { request as httpRequest } from 'node:http';
import * as oidc from 'openid-client';

import type { ConfigInput } from '../../src/config/schema.js';
import { addClient, addUser, alice, discover } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { csrfFrom, UserAgent } from '../helpers/user-agent.js';

export { alice, addClient, addUser, discover, startTestServer, UserAgent, csrfFrom };
export type { TestServer };

export const CALLBACK = 'http://127.0.0.1:8080/callback';
export const CALLBACK_ORIGIN = 'http://127.0.0.1:8080';
export const HTTPS_CALLBACK = 'https://app.example.com/cb';
export const LOGGED_OUT = 'http://127.0.0.1:8080/logged-out';
export const LOGIN_FAILED = 'The username or password is incorrect.';
/** RFC 7636 appendix B: verifier dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk */
export const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
export const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

export type Client = Awaited<ReturnType<typeof addClient>>;

export interface Env {
  server: TestServer;
  url: string;
  /** confidential web client (client_secret_basic) with CALLBACK and HTTPS_CALLBACK registered */
  client: Client;
  config: oidc.Configuration;
}

/** Starts a server with alice and one confidential client. */
export async function setup(overrides: Partial<ConfigInput> = {}, dir?: string): Promise<Env> {
  const server = await startTestServer(overrides, dir);
  await addUser(server.store);
  const client = await addClient(server.store, { redirect_uris: [CALLBACK, HTTPS_CALLBACK] });
  const config = await discover(server.url, client.client_id, client.client_secret);
  return { server, url: server.url, client, config };
}

/** GET /.well-known/openid-configuration answers 200 with our issuer. */
export async function expectHealthy(server: TestServer): Promise<void> {
  const res = await fetch(`${server.url}/.well-known/openid-configuration`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { issuer: string }).issuer).toBe(server.url);
}

/** Registers an afterEach that asserts every listed (still running) server is healthy. */
export function afterEachHealthy(servers: () => (TestServer | undefined)[]): void {
  afterEach(async () => {
    for (const s of servers()) if (s) await expectHealthy(s);
  });
}

/**
 * Servers started per test: `start()` sets one up (setup()); after each test every one is checked
 * healthy, then stopped. `live` lists the running ones (a test may take one out to stop it itself).
 */
export function serversPerTest() {
  const live: TestServer[] = [];
  afterEach(async () => {
    const servers = live.splice(0);
    try {
      for (const s of servers) await expectHealthy(s);
    } finally {
      for (const s of servers) await s.stop();
    }
  });
  return {
    live,
    async start(overrides: Partial<ConfigInput> = {}, dir?: string): Promise<Env> {
      const env = await setup(overrides, dir);
      live.push(env.server);
      return env;
    },
  };
}

/** A GET that never follows redirects; `accept` defaults to a browser's text/html. */
export function get(url: string | URL, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers: { accept: 'text/html', ...headers } });
}

/** The authorization URL for a correct code + PKCE request, with `change` applied (undefined deletes). */
export function authUrl(env: Env, change: Record<string, string | undefined> = {}, client: Client = env.client): URL {
  const params: Record<string, string | undefined> = {
    client_id: client.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: CALLBACK,
    code_challenge: RFC_CHALLENGE,
    code_challenge_method: 'S256',
    state: 'state-123',
    nonce: 'nonce-123',
    ...change,
  };
  const url = new URL(`${env.url}/auth`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export interface JsonResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a form to `path`; `auth` adds HTTP Basic client authentication (null: none). */
export async function postJson(
  env: Env,
  path: string,
  body: string | Record<string, string>,
  auth: { id: string; secret: string } | null = { id: env.client.client_id, secret: env.client.client_secret },
): Promise<JsonResult> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (auth) headers.authorization = basic(auth.id, auth.secret);
  const res = await fetch(`${env.url}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
    redirect: 'manual',
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { unparsed: text };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export const tokenRequest = (env: Env, body: string | Record<string, string>, auth?: { id: string; secret: string } | null) =>
  postJson(env, '/token', body, auth);

/** Asserts an HTML error page with the given status and error code, and no redirect anywhere. */
export async function expectErrorPage(res: Response, status: number, error: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  const html = await res.text();
  expect(html).toContain(`<code>${error}</code>`);
  return html;
}

/** Asserts a 303 back to `redirectUri` and returns the response parameters (query, or fragment). */
export function expectBackAtClient(res: Response, redirectUri = CALLBACK, where: 'query' | 'fragment' = 'query'): URLSearchParams {
  expect(res.status).toBe(303);
  const location = new URL(res.headers.get('location')!);
  expect(location.origin + location.pathname).toBe(redirectUri);
  if (where === 'fragment') {
    expect(location.search).toBe('');
    return new URLSearchParams(location.hash.slice(1));
  }
  expect(location.hash).toBe('');
  return location.searchParams;
}

export interface InteractionPage {
  ua: UserAgent;
  uid: string;
  csrf: string;
  html: string;
  res: Response;
  base: URL;
}

/** Opens /auth in a fresh user agent and stops at the first interaction page (login or consent). */
export async function openInteraction(env: Env, change: Record<string, string | undefined> = {}, ua = new UserAgent(), client?: Client): Promise<InteractionPage> {
  const step = await ua.follow(authUrl(env, change, client), env.url);
  if (!step.page) throw new Error(`expected an interaction page, left to ${step.left?.href}`);
  const html = await step.page.text();
  if (step.page.status !== 200) throw new Error(`interaction page ${step.page.status}: ${html.slice(0, 300)}`);
  const uid = /\/interaction\/([^/]+)$/.exec(step.url.pathname)?.[1];
  if (!uid) throw new Error(`not an interaction URL: ${step.url.href}`);
  return { ua, uid, csrf: csrfFrom(html), html, res: step.page, base: new URL(step.url.pathname, env.url) };
}

/** POSTs a raw url-encoded body to /interaction/:uid/<action> with the page's cookies. */
export function postInteraction(env: Env, page: InteractionPage, action: 'login' | 'consent' | 'abort', body: string | Record<string, string>, accept = 'text/html') {
  return page.ua.request(new URL(`/interaction/${page.uid}/${action}`, env.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  });
}

/**
 * Logs in as `user` on a fresh login page and follows on to the consent page (prompt=consent,
 * since a consent given earlier is remembered and would otherwise skip the page).
 */
export async function openConsent(env: Env, change: Record<string, string | undefined> = {}, client?: Client, user = alice): Promise<InteractionPage> {
  const login = await openInteraction(env, { prompt: 'consent', ...change }, undefined, client);
  const res = await postInteraction(env, login, 'login', { csrf: login.csrf, login: user.username, password: user.password });
  expect(res.status).toBe(303);
  const step = await login.ua.follow(new URL(`/interaction/${login.uid}/login`, env.url), env.url, res);
  if (!step.page) throw new Error(`expected the consent page, left to ${step.left?.href}`);
  const html = await step.page.text();
  expect(step.page.status).toBe(200);
  expect(html).toContain('Allow access?');
  const uid = /\/interaction\/([^/]+)$/.exec(step.url.pathname)![1]!;
  return { ua: login.ua, uid, csrf: csrfFrom(html), html, res: step.page, base: new URL(step.url.pathname, env.url) };
}

/** Runs the whole flow and returns a fresh code with its verifier (not yet redeemed). */
export async function freshCode(env: Env, change: Record<string, string | undefined> = {}, client?: Client, user = alice) {
  const verifier = oidc.randomPKCECodeVerifier();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const consent = await openConsent(env, { code_challenge: challenge, ...change }, client, user);
  const res = await postInteraction(env, consent, 'consent', { csrf: consent.csrf });
  const step = await consent.ua.follow(new URL(`/interaction/${consent.uid}/consent`, env.url), env.url, res);
  if (!step.left) throw new Error('the flow did not return to the client');
  const code = step.left.searchParams.get('code');
  if (!code) throw new Error(`no code in ${step.left.href}`);
  return { code, verifier, ua: consent.ua, callback: step.left };
}

/** Redeems a code at /token as `client` (HTTP Basic, or client_id in the body for public clients). */
export function redeem(env: Env, code: string, verifier: string, client: Client = env.client) {
  const body: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier };
  if (!client.client_secret) return tokenRequest(env, { ...body, client_id: client.client_id }, null);
  return tokenRequest(env, body, { id: client.client_id, secret: client.client_secret });
}

/** The text of the login page's alert, if any. */
export const alertText = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];

/** Introspects `token` as `client` and returns `active`. */
export async function isActive(env: Env, token: string, client: Client = env.client): Promise<boolean> {
  const res = await postJson(env, '/token/introspection', { token }, { id: client.client_id, secret: client.client_secret });
  expect(res.status).toBe(200);
  return res.body.active === true;
}

/** A raw GET with node:http, so headers fetch refuses to send (Host) can be set. */
export function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

export interface LoginAttempt {
  status: number;
  retryAfter: string | null;
  location: string | null;
  html: string;
  alert: string | undefined;
  ms: number;
}

/** One login attempt on an open login page (the page stays usable after a failure). */
export async function loginAttempt(env: Env, page: InteractionPage, login: string, password: string, headers: Record<string, string> = {}): Promise<LoginAttempt> {
  const started = performance.now();
  const res = await page.ua.request(new URL(`/interaction/${page.uid}/login`, env.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...headers },
    body: new URLSearchParams({ csrf: page.csrf, login, password }).toString(),
  });
  const html = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), location: res.headers.get('location'), html, alert: alertText(html), ms: performance.now() - started };
}

/** The value of one Prometheus series in a scrape, or undefined when absent. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ').pop()) : undefined;
}
