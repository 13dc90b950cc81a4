/**
 * Dynamic registration as the dynamic plan does it (RFC 7591 at the registration endpoint, no
 * initial access token), and client authentication with private_key_jwt (RFC 7523): keys the RP
 * holds, published inline (`jwks`) or at a `jwks_uri` this module serves, and client assertions.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';

import type { TokenResponse } from './checks.js';
import { REDIRECT_URI, type Client, type ClientMetadata, type Op } from './helpers.js';

/** An RP signing key: the private key and its public JWK (with kid, alg, use). */
export interface RpKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function rpKey(): Promise<RpKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' } };
}

/** The registration request's defaults, as the suite builds them for the code flow. */
const suiteRegistration = () => ({
  client_name: 'oidc-conformance-suite dynamic client',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  contacts: ['certification@oidf.org'],
});

export interface Registration {
  status: number;
  body: Record<string, unknown>;
}

/** POST to the registration endpoint; returns the raw answer. */
export async function registerRaw(op: Pick<Op, 'meta'>, metadata: Record<string, unknown>): Promise<Registration> {
  const res = await fetch(op.meta.registration_endpoint!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Registers a client the way the plan's modules do (the suite's request plus `extra`), expects
 * 201, and gives it an openid-client configuration (client_secret_basic or private_key_jwt).
 */
export async function registerDynamically(op: Pick<Op, 'meta' | 'issuer'>, extra: Record<string, unknown> = {}, key?: RpKey): Promise<Client & { response: Record<string, unknown> }> {
  const res = await registerRaw(op, { ...suiteRegistration(), ...extra });
  expect({ status: res.status, error: res.body.error_description }).toEqual({ status: 201, error: undefined });
  expect(res.body.client_id).toEqual(expect.any(String));
  const metadata = res.body as ClientMetadata;
  const auth = key ? oidc.PrivateKeyJwt({ key: key.privateKey, kid: key.jwk.kid }) : oidc.ClientSecretBasic(metadata.client_secret);
  const config = await oidc.discovery(new URL(op.issuer), metadata.client_id, key ? {} : { client_secret: metadata.client_secret }, auth, {
    execute: [oidc.allowInsecureRequests],
  });
  return { metadata, config, response: res.body };
}

/** A private_key_jwt client assertion (RFC 7523 §3): iss = sub = client_id, `aud` as given. */
export function clientAssertion(clientId: string, key: RpKey, aud: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: key.jwk.kid! })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(aud)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key.privateKey);
}

/** A token request authenticated with a client assertion, as the suite sends it. */
export async function assertionTokenRequest(op: Pick<Op, 'meta'>, clientId: string, key: RpKey, params: Record<string, string>, aud = op.meta.token_endpoint!): Promise<TokenResponse> {
  const body = new URLSearchParams({
    ...params,
    client_id: clientId,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await clientAssertion(clientId, key, aud),
  });
  const res = await fetch(op.meta.token_endpoint!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  return { status: res.status, type: res.headers.get('content-type') ?? '', cacheControl: res.headers.get('cache-control'), body: (await res.json()) as Record<string, unknown> };
}

/** The RP's jwks_uri: serves whichever keys it holds now (rotate by replacing them). */
export interface JwksServer {
  uri: string;
  keys: RpKey[];
  fetches: number;
  close(): Promise<void>;
}

export async function serveJwks(keys: RpKey[]): Promise<JwksServer> {
  const state = { keys, fetches: 0 } as JwksServer;
  const server: Server = createServer((_req, res) => {
    state.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
