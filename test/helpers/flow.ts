import * as oidc from 'openid-client';

import type { Store } from '../../src/storage/types.js';
import { createAccountService } from '../../src/accounts/account-service.js';
import { startTestServer } from './server.js';
import { csrfFrom, UserAgent } from './user-agent.js';

export const alice = { username: 'alice', password: 'correct horse battery', email: 'Alice@Example.com', name: 'Alice Liddell' };

export async function addUser(store: Store, user = alice) {
  return createAccountService(store).create({ ...user, emailVerified: true });
}

export async function addClient(store: Store, overrides: Record<string, unknown> = {}) {
  const metadata = {
    client_id: `client-${Math.random().toString(36).slice(2)}`,
    client_secret: 'a-very-long-client-secret-for-tests-0123456789',
    client_name: 'Test App',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:8080/callback'],
    post_logout_redirect_uris: ['http://127.0.0.1:8080/logged-out'],
    ...overrides,
  };
  await store.clients.upsert(metadata as never);
  return metadata;
}

/** openid-client configuration for a client, allowing plain http on loopback. */
export async function discover(issuer: string, clientId: string, secret?: string) {
  return oidc.discovery(
    new URL(issuer),
    clientId,
    secret ? { client_secret: secret } : {},
    secret ? oidc.ClientSecretBasic(secret) : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
}

export interface LoginOptions {
  ua?: UserAgent;
  scope?: string;
  extra?: Record<string, string>;
  user?: { username: string; password: string };
  redirectUri?: string;
  consent?: boolean;
  /**
   * Makes the authorization URL from the request's parameters (default: oidc.buildAuthorizationUrl),
   * e.g. `(config, params) => oidc.buildAuthorizationUrlWithPAR(config, params)` to push them first.
   */
  buildUrl?: (config: oidc.Configuration, parameters: Record<string, string>) => URL | Promise<URL>;
}

/**
 * Runs the authorization code flow with PKCE through the real login and consent pages,
 * returning the callback URL the client would receive plus what is needed to redeem it.
 */
export async function authorize(config: oidc.Configuration, issuer: string, options: LoginOptions = {}) {
  const ua = options.ua ?? new UserAgent();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const build = options.buildUrl ?? ((c: oidc.Configuration, p: Record<string, string>) => oidc.buildAuthorizationUrl(c, p));
  const url = await build(config, {
    redirect_uri: options.redirectUri ?? 'http://127.0.0.1:8080/callback',
    scope: options.scope ?? 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.extra,
  });
  const callback = await signInThroughPages(ua, url, issuer, options);
  return { callback, verifier, state, nonce, ua };
}

/**
 * From an authorization URL (any client's, e.g. one Auth.js made), through the real login and
 * consent pages, to the redirect that leaves idport: returns that URL (the client's callback).
 */
export async function signInThroughPages(ua: UserAgent, url: URL, issuer: string, options: Pick<LoginOptions, 'user' | 'consent'> = {}): Promise<URL> {
  let step = await ua.follow(url, issuer);
  for (let pages = 0; !step.left && pages < 4; pages += 1) {
    const html = await step.page!.text();
    if (step.page!.status !== 200) throw new Error(`unexpected page ${step.page!.status}: ${html.slice(0, 300)}`);
    const csrf = csrfFrom(html);
    const action = step.url.pathname;
    let res: Response;
    if (html.includes('name="password"')) {
      const user = options.user ?? alice;
      res = await ua.postForm(new URL(`${action}/login`, issuer), { csrf, login: user.username, password: user.password });
    } else if (options.consent === false) {
      res = await ua.postForm(new URL(`${action}/abort`, issuer), { csrf });
    } else {
      res = await ua.postForm(new URL(`${action}/consent`, issuer), { csrf });
    }
    step = await ua.follow(step.url, issuer, res);
  }
  if (!step.left) throw new Error('the flow did not return to the client');
  return step.left;
}

export async function loginAndRedeem(config: oidc.Configuration, issuer: string, options: LoginOptions = {}) {
  const { callback, verifier, state, nonce, ua } = await authorize(config, issuer, options);
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { tokens, ua, callback, verifier };
}

/** A test server with alice, one confidential client and its openid-client configuration. */
export async function startFlowServer() {
  const server = await startTestServer();
  await addUser(server.store);
  const client = await addClient(server.store);
  const config = await discover(server.url, client.client_id, client.client_secret);
  return { server, client, config };
}
