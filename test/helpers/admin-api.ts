/**
 * Calling the admin API of a test server over real HTTP with real idport access tokens
 * (client_credentials for {issuer}/admin, from a client holding the admin scopes asked for).
 */
import * as oidc from 'openid-client';

import type { Store } from '../../src/storage/types.js';
import { addClient, discover } from './flow.js';

const secret = 'a-very-long-client-secret-for-admin-tests-0123456789';

export interface AdminAnswer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** A client_credentials client holding these admin scopes (plus `extra` metadata), and its openid-client configuration. */
export async function adminClient(store: Store, issuer: string, scopes: string[], extra: Record<string, unknown> = {}) {
  const client = await addClient(store, { client_secret: secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], post_logout_redirect_uris: [], api_scopes: scopes, ...extra });
  return { client, config: await discover(issuer, client.client_id, secret) };
}

/** A new such client and an admin token for it (asking for `scope`, by default all it holds); its client id too. */
export async function adminToken(store: Store, issuer: string, scopes: string[], scope = scopes.join(' ')): Promise<{ token: string; clientId: string }> {
  const { client, config } = await adminClient(store, issuer, scopes);
  const tokens = await oidc.clientCredentialsGrant(config, { resource: `${issuer}/admin`, scope });
  return { token: tokens.access_token, clientId: client.client_id };
}

/** One admin API call: method and path under /admin/v1, a JSON body if given, more headers if given. */
export async function adminCall(issuer: string, token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminAnswer> {
  const res = await fetch(`${issuer}/admin/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
}

/** An RFC 9457 problem with this status, and no stack trace. */
export function expectProblem(answer: AdminAnswer, status: number): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  expect(answer.text).not.toMatch(/\n\s+at /);
}
