/**
 * The cast of RFC 8693 token exchange tests: API A (orders, opaque) and API B (billing, opaque; a
 * JWT twin, reports), a web app C1 the user signs in to for A, a service S that is A's resource
 * server and may exchange, and B's resource server that introspects what S gets.
 */
import * as oidc from 'openid-client';

import { tokenExchangeGrant } from '../../src/clients/client-policy.js';
import { accessTokenType } from '../../src/tokens/exchange-policy.js';
import { addClient, addUser, discover, loginAndRedeem } from './flow.js';
import type { TestServer } from './server.js';
import { UserAgent } from './user-agent.js';

export const ordersApi = 'https://orders.example.com';
export const billingApi = 'https://billing.example.com';
export const reportsApi = 'https://reports.example.com';
export { accessTokenType, tokenExchangeGrant };

export type TestClient = Awaited<ReturnType<typeof addClient>> & { token_endpoint_auth_method?: unknown };

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

const basic = (c: { client_id: string; client_secret?: string }) =>
  `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret ?? '')}`).toString('base64')}`;

/** POSTs a form to idport, authenticating as `client` (HTTP Basic; public clients send client_id). */
export async function post(server: TestServer, path: string, client: TestClient, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
  const isPublic = client.token_endpoint_auth_method === 'none';
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(isPublic ? {} : { authorization: basic(client) }), ...headers },
    body: new URLSearchParams(isPublic ? { client_id: client.client_id, ...body } : body).toString(),
  });
  const text = await res.text();
  // revocation answers 200 with no body
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** A token exchange request by `client` for `subjectToken`, with more parameters and headers. */
export const exchange = (server: TestServer, client: TestClient, subjectToken: string, more: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  post(server, '/token', client, { grant_type: tokenExchangeGrant, subject_token: subjectToken, subject_token_type: accessTokenType, ...more }, headers);

export const introspect = (server: TestServer, client: TestClient, token: string) => post(server, '/token/introspection', client, { token });

/** A confidential client with the token exchange grant only (no user sign-in of its own). */
export const addService = (server: TestServer, overrides: Record<string, unknown> = {}) =>
  addClient(server.store, { client_name: 'Service', grant_types: [tokenExchangeGrant], response_types: [], redirect_uris: [], post_logout_redirect_uris: [], ...overrides });

export interface Cast {
  aliceId: string;
  /** the web app the user signs in to, for A */
  app: TestClient;
  appConfig: oidc.Configuration;
  /** A's backend, which exchanges the user's token for one for B */
  service: TestClient;
  /** B's backend, which introspects */
  billing: TestClient;
  /** a fresh sign-in: the user's tokens from the app for A (scope: orders:read orders:write by default) */
  signIn(scope?: string, ua?: UserAgent): Promise<oidc.TokenEndpointResponse>;
}

export async function setupCast(server: TestServer): Promise<Cast> {
  const aliceId = (await addUser(server.store)).id;
  const api = (audience: string, scopes: string[], tokenFormat: 'jwt' | 'opaque') =>
    server.store.apis.upsert({ audience, name: null, scopes, tokenFormat, accessTokenTtl: null });
  await api(ordersApi, ['orders:read', 'orders:write'], 'opaque');
  await api(billingApi, ['orders:read', 'billing:read'], 'opaque');
  await api(reportsApi, ['orders:read'], 'jwt');
  const app = await addClient(server.store, { client_name: 'Shop', api_scopes: ['orders:read', 'orders:write'] });
  const service = await addService(server, { client_name: 'Orders backend', introspect_for: [ordersApi], api_scopes: ['orders:read', 'billing:read'] });
  const billing = await addClient(server.store, { client_name: 'Billing backend', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], introspect_for: [billingApi, reportsApi] });
  const appConfig = await discover(server.url, app.client_id, app.client_secret);
  const signIn = async (scope = 'openid orders:read orders:write', ua = new UserAgent()) =>
    (await loginAndRedeem(appConfig, server.url, { ua, scope, extra: { resource: ordersApi } })).tokens;
  return { aliceId, app, appConfig, service, billing, signIn };
}
