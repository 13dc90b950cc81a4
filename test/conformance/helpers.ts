/**
 * Shared helpers for the conformance tests: each test is one module of the OpenID Foundation's
 * conformance suite (see docs/conformance.md), run against the real server over HTTP, with the
 * real login/consent pages driven by UserAgent.
 *
 * Requests are built the way the suite builds them (OIDCC basic plan: code flow,
 * client_secret_basic, state + nonce of the suite's shapes, NO PKCE unless the module adds it),
 * for a client registered the way a certification run needs it (`certificationClient`). Every
 * response is checked the way the suite checks it on every flow (checks.ts): the JWKS when a
 * module starts (moduleHooks), the authorization response or error, the token response, every ID
 * token (signature with the module's JWKS, claims, hashes) and a userinfo call (checkFlow).
 */
import { createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';

import { createAccountService } from '../../src/accounts/account-service.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { AccountRecord } from '../../src/storage/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { csrfFrom, UserAgent } from '../helpers/user-agent.js';
import {
  authorizationErrorFindings,
  authorizationResponseFindings,
  expectNoFindings,
  idTokenFindings,
  serverJwksFindings,
  standardClaimFindings,
  tokenErrorFindings,
  tokenResponseFindings,
  unrequestedClaimFindings,
  updatedAtFindings,
  type Findings,
  type TokenResponse,
} from './checks.js';
import { buffy, certificationClient, POST_LOGOUT_REDIRECT_URI, REDIRECT_URI } from './fixtures.js';
import { suiteRandomValue } from './suite-values.js';

export * from './fixtures.js';
export { UserAgent };

export type ClientMetadata = Record<string, unknown> & { client_id: string; client_secret: string; redirect_uris: string[] };
export interface Client {
  metadata: ClientMetadata;
  config: oidc.Configuration;
}

export interface Op {
  server: TestServer;
  issuer: string;
  user: AccountRecord;
  /** the certification client (client_secret_basic, PKCE optional) */
  client: ClientMetadata;
  config: oidc.Configuration;
  meta: oidc.ServerMetadata;
  /** the server's JWKS as the current module fetched it when it started (see moduleHooks) */
  jwks?: JSONWebKeySet;
  /** how many responses the current module ran through the per-flow checks */
  checked: number;
  stop(): Promise<void>;
}

/** Starts idport on a temp store with the test user and the certification client. */
export async function startOp(overrides: Partial<ConfigInput> = {}): Promise<Op> {
  // The suite's modules run minutes apart; here dozens of logins from 127.0.0.1 happen within
  // seconds, so the per-IP login rate (a brute-force guard, not a conformance matter) is raised.
  const server = await startTestServer({ bruteForce: { loginsPerIpPerMinute: 10_000 }, ...overrides });
  try {
    const user = await createAccountService(server.store).create({ ...buffy, claims: { ...buffy.claims }, emailVerified: true });
    const op = { server, issuer: server.url, user, checked: 0, stop: () => server.stop() } as Op;
    const { metadata, config } = await registerClient(op);
    return Object.assign(op, { client: metadata, config, meta: config.serverMetadata() });
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/**
 * What the suite does as every module starts (AbstractOIDCCServerTest.configure): fetch the
 * server's JWKS and validate it (kids present and distinct, public keys only, usable). The ID
 * tokens of the module are then verified against exactly this JWKS. After each module, checks
 * that it ran its responses through the per-flow checks (or said why it has none: `flowless`).
 */
export function moduleHooks(getOp: () => Op) {
  let reason: string | undefined;
  beforeEach(async () => {
    reason = undefined;
    await beginModule(getOp());
  });
  afterEach(() => {
    const op = getOp();
    if (reason === undefined) expect({ checkedResponses: op.checked > 0 }).toEqual({ checkedResponses: true });
  });
  return {
    /** the current module has no response to check (discovery, registration, an error page) */
    flowless(why: string) {
      reason = why;
    },
  };
}

export async function beginModule(op: Op) {
  const res = await fetch(op.meta.jwks_uri!);
  expect(res.status).toBe(200);
  const jwks = (await res.json()) as JSONWebKeySet;
  expectNoFindings(await serverJwksFindings(jwks));
  op.jwks = jwks;
  op.checked = 0;
}

let clients = 0;

/**
 * Registers a client straight in the store (what `idport clients add` ends up doing) after
 * validating its metadata with the running provider's Client.validate, as the CLI does
 * (src/cli/context.ts). By default it is a certification client (see certificationClient).
 */
export async function registerClient(op: Pick<Op, 'server' | 'issuer'>, overrides: Record<string, unknown> = {}): Promise<Client> {
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

export interface RequestShape {
  /** S256 PKCE (only oidcc-ensure-request-with-valid-pkce-succeeds and non-certification clients) */
  pkce?: boolean;
  /** the suite's requested_state_length / requested_nonce_length (10 by default) */
  stateLength?: number;
  nonceLength?: number;
}

/**
 * An authorization request as the suite builds it: client_id, response_type=code, scope,
 * redirect_uri, state, nonce (alphanumerics, see suiteRandomValue); `pkce: true` adds S256 PKCE;
 * `extra` adds parameters, and an `undefined` value removes one.
 */
export async function authRequest(client: { client_id: string }, extra: Record<string, string | undefined> = {}, shape: RequestShape = {}): Promise<AuthRequest> {
  const params: Record<string, string | undefined> = {
    client_id: client.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: REDIRECT_URI,
    state: suiteRandomValue(shape.stateLength),
    nonce: suiteRandomValue(shape.nonceLength),
  };
  let verifier: string | undefined;
  if (shape.pkce) {
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
  /**
   * The POST comes from the suite's page, another site: the browser withholds our SameSite=Lax
   * cookies from it (they go again with the top-level GET that follows).
   */
  crossSite?: boolean;
  order?: 'as-is' | 'reversed';
  user?: { username: string; password: string };
  /** what to type in the login field (default the username) */
  login?: string;
  /** called with each page's HTML before it is submitted */
  onPage?: (page: Page, html: string) => void;
}

/** A form POST from another site: the browser sends none of our (SameSite=Lax) cookies with it. */
async function crossSitePost(ua: UserAgent, url: string, form: Record<string, string>) {
  const withheld = new Map(ua.cookies);
  ua.cookies.clear();
  try {
    return await ua.postForm(url, form);
  } finally {
    for (const [name, value] of withheld) if (!ua.cookies.has(name)) ua.cookies.set(name, value);
  }
}

/**
 * Sends the browser to the authorization endpoint and acts as the user on the login and
 * consent pages until the server redirects back to the client. Throws on any other page.
 */
export async function drive(op: Pick<Op, 'issuer' | 'meta'>, request: AuthRequest, options: DriveOptions = {}): Promise<Flow> {
  const ua = options.ua ?? new UserAgent();
  const pages: Page[] = [];
  const endpoint = op.meta.authorization_endpoint!;
  let step =
    options.method === 'POST'
      ? await ua.follow(endpoint, op.issuer, await (options.crossSite ? crossSitePost(ua, endpoint, request.params) : ua.postForm(endpoint, request.params)))
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

export interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token?: string | undefined;
  token_type: string;
  expires_in?: number | undefined;
}

export type IdTokenClaims = JWTPayload & { sub: string; auth_time?: number; nonce?: string; [claim: string]: unknown };

/**
 * The per-flow checker: what the suite checks on every successful code flow. The authorization
 * response (redirect URI query kept, iss, state, code of ≥ 128 bits), the token response (200
 * JSON, no-store, Bearer, expires_in, token syntax and entropy, an ID token), the ID token
 * (signature with the one key of the module's JWKS that matches kid/alg/use, iss/aud/exp/iat/
 * auth_time/nonce/sub, standard claim types, updated_at, c_hash/at_hash when present, no claims
 * nobody asked for) and a userinfo call with the access token (200).
 */
export async function checkFlow(op: Op, flow: Flow, res: TokenResponse, clientId: string): Promise<{ tokens: Tokens; claims: IdTokenClaims }> {
  if (!op.jwks) throw new Error('the module did not start: call moduleHooks(() => op) in the test file');
  const findings: Findings = [...authorizationResponseFindings(flow.callback, flow, op.issuer), ...tokenResponseFindings(res, { idToken: 'required' })];
  const tokens = res.body as unknown as Tokens;
  let claims = {} as IdTokenClaims;
  if (typeof tokens.id_token === 'string') {
    const code = flow.callback.searchParams.get('code') ?? undefined;
    const idToken = await idTokenFindings(tokens.id_token, op.jwks, { issuer: op.issuer, clientId, nonce: flow.nonce, code, accessToken: tokens.access_token });
    claims = idToken.claims as IdTokenClaims;
    findings.push(...idToken.findings, ...unrequestedClaimFindings(claims, flow));
  }
  if (typeof tokens.access_token === 'string') {
    const info = await userinfo(op, tokens.access_token);
    if (info.status !== 200) findings.push(`EnsureHttpStatusCodeIs200 (userinfo): ${info.status} ${info.text.slice(0, 200)}`);
  }
  expectNoFindings(findings);
  op.checked += 1;
  return { tokens, claims };
}

/** Redeems the code of a successful flow at the token endpoint as the suite does, and checks the flow. */
export async function redeem(op: Op, flow: Flow, client: ClientMetadata = op.client) {
  const params: Record<string, string> = {
    grant_type: 'authorization_code',
    code: flow.callback.searchParams.get('code') ?? '',
    redirect_uri: flow.params.redirect_uri ?? REDIRECT_URI,
  };
  if (flow.verifier) params.code_verifier = flow.verifier;
  const auth = client.token_endpoint_auth_method === 'client_secret_post' ? 'client_secret_post' : 'client_secret_basic';
  return checkFlow(op, flow, await tokenRequest(op, client, params, auth), client.client_id);
}

/** A whole successful login: drive the pages, then redeem the code (and check it all). */
export async function login(op: Op, extra: Record<string, string | undefined> = {}, options: DriveOptions & RequestShape & { client?: Client } = {}) {
  const client = options.client?.metadata ?? op.client;
  const flow = await drive(op, await authRequest(client, extra, options), options);
  expect(flow.callback.origin + flow.callback.pathname).toBe(extra.redirect_uri ?? REDIRECT_URI);
  return { flow, ...(await redeem(op, flow, client)) };
}

/**
 * A refresh as the suite sends it (RefreshTokenRequestSteps): the first client adds the scope it
 * asked for, the second does not. Checks the response and the ID token it carries; the caller
 * compares it with the first (refreshedIdTokenFindings).
 */
export async function refresh(op: Op, client: ClientMetadata, refreshToken: string, { scope, nonce }: { scope?: string | undefined; nonce: string | undefined }) {
  const params: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken };
  if (scope !== undefined) params.scope = scope;
  const res = await tokenRequest(op, client, params);
  const findings = tokenResponseFindings(res, { idToken: 'optional' });
  const tokens = res.body as unknown as Tokens;
  let claims: IdTokenClaims | undefined;
  if (typeof tokens.id_token === 'string') {
    // oidc-provider repeats the original nonce in a refreshed ID token; none at all is fine too
    const idToken = await idTokenFindings(tokens.id_token, op.jwks!, { issuer: op.issuer, clientId: client.client_id, nonce: nonce, accessToken: tokens.access_token });
    claims = idToken.claims as IdTokenClaims;
    findings.push(...idToken.findings.filter((f) => !(claims!.nonce === undefined && f.startsWith('ValidateIdTokenNonce'))));
  }
  expectNoFindings(findings);
  op.checked += 1;
  return { res, tokens, claims };
}

/**
 * An error sent back to the client's redirect URI, checked as the suite checks every one
 * (performGenericAuthorizationEndpointErrorResponseValidation); `error` is what the module wants.
 */
export function expectAuthorizationError(op: Op, callback: URL, request: { params: Record<string, string>; state?: string | undefined }, error: string | string[]) {
  const redirectUri = new URL(request.params.redirect_uri ?? REDIRECT_URI);
  expect(callback.origin + callback.pathname).toBe(redirectUri.origin + redirectUri.pathname);
  expectNoFindings(authorizationErrorFindings(callback, request, op.issuer));
  expect([error].flat()).toContain(callback.searchParams.get('error'));
  op.checked += 1;
  return Object.fromEntries(callback.searchParams);
}

/** A token endpoint error, checked as the suite checks one (400, JSON, the error, its syntax). */
export function expectTokenError(op: Op, res: TokenResponse, error = 'invalid_grant') {
  expectNoFindings(tokenErrorFindings(res, error));
  op.checked += 1;
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
): Promise<TokenResponse> {
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

/**
 * A userinfo response as the suite checks it (ValidateUserInfoStandardClaims,
 * EnsureUserInfoContainsSub, EnsureUserInfoUpdatedAtValid).
 */
export function expectStandardClaimTypes(claims: JWTPayload | Record<string, unknown>) {
  const findings = [...standardClaimFindings(claims, 'UserInfo'), ...updatedAtFindings(claims, 'UserInfo')];
  if (typeof claims.sub !== 'string' || claims.sub === '') findings.push('EnsureUserInfoContainsSub: no sub');
  expectNoFindings(findings);
}
