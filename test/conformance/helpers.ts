/**
 * Shared helpers for the conformance tests: each test is one module of the OpenID Foundation's
 * conformance suite (see docs/conformance.md), run against the real server over HTTP with
 * openid-client as the relying party and the real login/consent pages driven by UserAgent.
 *
 * Requests are built the way the suite builds them (OIDCC basic plan: code flow,
 * client_secret_basic, state + nonce, NO PKCE unless the module adds it), for a client
 * registered the way a certification run needs it (`certificationClient`).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';

import { createAccountService } from '../../src/accounts/account-service.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { AccountRecord } from '../../src/storage/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { csrfFrom, UserAgent } from '../helpers/user-agent.js';

export { UserAgent };

export const REDIRECT_URI = 'http://127.0.0.1:8080/callback';
export const POST_LOGOUT_REDIRECT_URI = 'http://127.0.0.1:8080/post_logout_redirect';

/**
 * The suite's basic and logout plans run with static clients and never send PKCE (only
 * oidcc-ensure-request-with-valid-pkce-succeeds does). idport requires PKCE by default, so the
 * clients of a certification run are registered with PKCE made optional (confidential clients
 * only; `idport clients add --pkce-optional`). See docs/conformance.md, setting S1.
 */
export const certificationClient = { require_pkce: false } as const;

/** The test user, with every standard claim (OpenID Connect Core §5.1) filled in. */
export const buffy = {
  username: 'buffy',
  password: 'into every generation a slayer is born',
  email: 'buffy@sunnydale.example',
  name: 'Buffy Anne Summers',
  claims: {
    given_name: 'Buffy',
    family_name: 'Summers',
    middle_name: 'Anne',
    nickname: 'Buff',
    profile: 'https://sunnydale.example/buffy',
    picture: 'https://sunnydale.example/buffy.png',
    website: 'https://slayer.example',
    gender: 'female',
    birthdate: '1981-01-19',
    zoneinfo: 'America/Los_Angeles',
    locale: 'en-US',
    address: {
      formatted: '1630 Revello Drive\nSunnydale, CA 95037\nUSA',
      street_address: '1630 Revello Drive',
      locality: 'Sunnydale',
      region: 'CA',
      postal_code: '95037',
      country: 'US',
    },
    phone_number: '+1 555 555 0199',
  },
} as const;

/** Standard claims released per scope (OpenID Connect Core §5.4). */
export const scopeClaims = {
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
    'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
} as const;

export type ClientMetadata = Record<string, unknown> & { client_id: string; client_secret: string; redirect_uris: string[] };

export interface Op {
  server: TestServer;
  issuer: string;
  user: AccountRecord;
  /** the certification client (client_secret_basic, PKCE optional) */
  client: ClientMetadata;
  config: oidc.Configuration;
  meta: oidc.ServerMetadata;
  stop(): Promise<void>;
}

/** Starts idport on a temp store with the test user and the certification client. */
export async function startOp(overrides: Partial<ConfigInput> = {}): Promise<Op> {
  // The suite's modules run minutes apart; here dozens of logins from 127.0.0.1 happen within
  // seconds, so the per-IP login rate (a brute-force guard, not a conformance matter) is raised.
  const server = await startTestServer({ bruteForce: { loginsPerIpPerMinute: 10_000 }, ...overrides });
  try {
    const user = await createAccountService(server.store).create({ ...buffy, claims: { ...buffy.claims }, emailVerified: true });
    const op = { server, issuer: server.url, user, stop: () => server.stop() } as Op;
    const { metadata, config } = await registerClient(op);
    return Object.assign(op, { client: metadata, config, meta: config.serverMetadata() });
  } catch (err) {
    await server.stop();
    throw err;
  }
}

let clients = 0;

/**
 * Registers a client straight in the store (what `idport clients add` ends up doing) after
 * validating its metadata with the running provider's Client.validate, as the CLI does
 * (src/cli/context.ts). By default it is a certification client (see certificationClient).
 */
export async function registerClient(op: Pick<Op, 'server' | 'issuer'>, overrides: Record<string, unknown> = {}) {
  clients += 1;
  const metadata = {
    client_id: `conformance-${clients}-${Math.random().toString(36).slice(2, 8)}`,
    client_secret: `secret-${Math.random().toString(36).slice(2)}-0123456789abcdefghijklmnop`,
    client_name: `Conformance RP ${clients}`,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
    ...certificationClient,
    ...overrides,
  } as ClientMetadata;
  await op.server.idport.provider().Client.validate(metadata as never);
  await op.server.store.clients.upsert(metadata);
  const auth = oidc.ClientSecretBasic(metadata.client_secret);
  const config = await oidc.discovery(new URL(op.issuer), metadata.client_id, { client_secret: metadata.client_secret }, auth, {
    execute: [oidc.allowInsecureRequests],
  });
  return { metadata, config };
}

export interface AuthRequest {
  params: Record<string, string>;
  state?: string | undefined;
  nonce?: string | undefined;
  verifier?: string | undefined;
}

/**
 * An authorization request as the suite builds it: client_id, response_type=code, scope,
 * redirect_uri, state, nonce; `pkce: true` adds S256 PKCE; `extra` adds parameters, and an
 * `undefined` value removes one.
 */
export async function authRequest(
  client: { client_id: string },
  extra: Record<string, string | undefined> = {},
  { pkce = false }: { pkce?: boolean } = {},
): Promise<AuthRequest> {
  const params: Record<string, string | undefined> = {
    client_id: client.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: REDIRECT_URI,
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
  };
  let verifier: string | undefined;
  if (pkce) {
    verifier = oidc.randomPKCECodeVerifier();
    params.code_challenge = await oidc.calculatePKCECodeChallenge(verifier);
    params.code_challenge_method = 'S256';
  }
  Object.assign(params, extra);
  const defined = Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return { params: defined, state: defined.state, nonce: defined.nonce, verifier };
}

/** The authorization endpoint URL for `params`, optionally in reverse alphabetical order. */
export function authUrl(op: Pick<Op, 'meta'>, params: Record<string, string>, order: 'as-is' | 'reversed' = 'as-is'): URL {
  const url = new URL(op.meta.authorization_endpoint!);
  const entries = Object.entries(params);
  if (order === 'reversed') entries.sort(([a], [b]) => (a < b ? 1 : -1));
  for (const [k, v] of entries) url.searchParams.append(k, v);
  return url;
}

export type Page = 'login' | 'consent';

export interface Flow extends AuthRequest {
  /** where the server sent the browser back to the client */
  callback: URL;
  /** the pages the user had to go through, in order */
  pages: Page[];
  ua: UserAgent;
}

export interface DriveOptions {
  ua?: UserAgent;
  /** GET (a redirect, the default) or POST (a form post) to the authorization endpoint */
  method?: 'GET' | 'POST';
  order?: 'as-is' | 'reversed';
  user?: { username: string; password: string };
  /** what to type in the login field (default the username) */
  login?: string;
  /** called with each page's HTML before it is submitted */
  onPage?: (page: Page, html: string) => void;
}

/**
 * Sends the browser to the authorization endpoint and acts as the user on the login and
 * consent pages until the server redirects back to the client. Throws on any other page.
 */
export async function drive(op: Pick<Op, 'issuer' | 'meta'>, request: AuthRequest, options: DriveOptions = {}): Promise<Flow> {
  const ua = options.ua ?? new UserAgent();
  const pages: Page[] = [];
  let step =
    options.method === 'POST'
      ? await ua.follow(op.meta.authorization_endpoint!, op.issuer, await ua.postForm(op.meta.authorization_endpoint!, request.params))
      : await ua.follow(authUrl(op, request.params, options.order), op.issuer);
  for (let n = 0; !step.left && n < 4; n += 1) {
    const html = await step.page!.text();
    if (step.page!.status !== 200 || !/^\/interaction\/[\w-]+$/.test(step.url.pathname)) {
      throw new Error(`expected a login or consent page, got ${step.page!.status} ${step.url.pathname}: ${html.slice(0, 400)}`);
    }
    const csrf = csrfFrom(html);
    const page: Page = html.includes('name="password"') ? 'login' : 'consent';
    pages.push(page);
    options.onPage?.(page, html);
    const user = options.user ?? buffy;
    const res =
      page === 'login'
        ? await ua.postForm(new URL(`${step.url.pathname}/login`, op.issuer), { csrf, login: options.login ?? user.username, password: user.password })
        : await ua.postForm(new URL(`${step.url.pathname}/consent`, op.issuer), { csrf });
    step = await ua.follow(step.url, op.issuer, res);
  }
  if (!step.left) throw new Error('the flow did not return to the client');
  return { ...request, callback: step.left, pages, ua };
}

/** Redeems the code from a successful flow with openid-client (which validates the ID token). */
export async function redeem(config: oidc.Configuration, flow: Flow) {
  const tokens = await oidc.authorizationCodeGrant(
    config,
    flow.callback,
    {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    },
  );
  return { tokens, claims: tokens.claims()! };
}

/** A whole successful login: drive the pages, then redeem the code. */
export async function login(op: Op, extra: Record<string, string | undefined> = {}, options: DriveOptions & { pkce?: boolean; client?: { metadata: ClientMetadata; config: oidc.Configuration } } = {}) {
  const client = options.client ?? { metadata: op.client, config: op.config };
  const flow = await drive(op, await authRequest(client.metadata, extra, { pkce: options.pkce }), options);
  expect(flow.callback.origin + flow.callback.pathname).toBe(extra.redirect_uri ?? REDIRECT_URI);
  const { searchParams } = flow.callback;
  expect({ error: searchParams.get('error'), error_description: searchParams.get('error_description') }).toEqual({ error: null, error_description: null });
  return { flow, ...(await redeem(client.config, flow)) };
}

/** The parameters of an error the server sent back to the client's redirect URI. */
export function callbackError(flow: { callback: URL }) {
  const p = flow.callback.searchParams;
  return { error: p.get('error'), state: p.get('state'), code: p.get('code'), iss: p.get('iss') };
}

/** Opens an authorization URL without a user, returning the browser's view of the first response. */
export async function open(url: string | URL, ua = new UserAgent()) {
  const res = await ua.request(url);
  return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type') ?? '', html: await res.text() };
}

/** The error page the suite expects to screenshot: an HTML page, no redirect, naming the error. */
export function expectErrorPage(page: { status: number; location: string | null; type: string; html: string }, error: string) {
  expect(page.status).toBe(400);
  expect(page.location).toBeNull();
  expect(page.type).toMatch(/text\/html/);
  expect(page.html).toContain(error);
}

/**
 * A raw token endpoint request, as the suite sends it: client_secret_basic (RFC 6749 §2.3.1
 * encoding in the Authorization header) or client_secret_post (credentials in the form body).
 */
export async function tokenRequest(
  op: Pick<Op, 'meta'>,
  client: { client_id: string; client_secret: string },
  params: Record<string, string>,
  auth: 'client_secret_basic' | 'client_secret_post' = 'client_secret_basic',
) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(params);
  if (auth === 'client_secret_basic') {
    const credentials = `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  } else {
    body.set('client_id', client.client_id);
    body.set('client_secret', client.client_secret);
  }
  const res = await fetch(op.meta.token_endpoint!, { method: 'POST', headers, body: body.toString() });
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    cacheControl: res.headers.get('cache-control'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

/** Calls the userinfo endpoint the three ways the suite does. */
export async function userinfo(op: Pick<Op, 'meta'>, accessToken: string, how: 'get' | 'post-header' | 'post-body' = 'get') {
  const endpoint = op.meta.userinfo_endpoint!;
  const init: RequestInit =
    how === 'get'
      ? { headers: { authorization: `Bearer ${accessToken}` } }
      : how === 'post-header'
        ? { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } }
        : { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: accessToken }).toString() };
  const res = await fetch(endpoint, init);
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  return {
    status: res.status,
    type,
    wwwAuthenticate: res.headers.get('www-authenticate'),
    text,
    body: type.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

/** Verifies a JWT against the server's published keys (the jwks_uri from discovery). */
export function verifyWithJwks(op: Pick<Op, 'meta'>, jwt: string, options: { audience?: string; issuer?: string } = {}) {
  return jwtVerify(jwt, createRemoteJWKSet(new URL(op.meta.jwks_uri!)), { issuer: op.meta.issuer, ...options });
}

/** OpenID Connect Core §5.1 member types, as the suite's ValidateUserInfoStandardClaims checks them. */
export function expectStandardClaimTypes(claims: JWTPayload | Record<string, unknown>) {
  const strings = [...scopeClaims.profile, 'email', 'phone_number'].filter((c) => c !== 'updated_at');
  for (const name of strings) if (name in claims) expect([name, typeof claims[name]]).toEqual([name, 'string']);
  for (const name of ['email_verified', 'phone_number_verified']) if (name in claims) expect([name, typeof claims[name]]).toEqual([name, 'boolean']);
  if ('updated_at' in claims) expect(Number.isInteger(claims.updated_at)).toBe(true);
  if ('address' in claims) {
    expect(typeof claims.address).toBe('object');
    for (const v of Object.values(claims.address as object)) expect(typeof v).toBe('string');
  }
  expect(typeof claims.sub).toBe('string');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whole seconds since the epoch, as in `auth_time`. */
export const epoch = () => Math.floor(Date.now() / 1000);

/** Waits until the wall clock reads at least `second` (epoch seconds). */
export async function untilSecond(second: number) {
  const ms = second * 1000 - Date.now();
  if (ms > 0) await sleep(ms + 25);
}

/** An unsigned (alg "none") JWT, as the suite's request object modules send. */
export function unsignedJwt(payload: Record<string, unknown>) {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64(payload)}.`;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the real `idport` command line (bin/idport.js) against `databaseUrl`. */
export function idportCli(databaseUrl: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' };
  for (const name of ['IDPORT_CONFIG', 'PORT', 'HOST', 'ISSUER', 'TRUST_PROXY', 'KEY_REFRESH_SECONDS', 'NODE_OPTIONS', 'npm_lifecycle_event']) {
    delete env[name];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/idport.js'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
