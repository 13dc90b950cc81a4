/**
 * A client cannot make idport a proxy into the network it runs in. With an https issuer, the keys
 * a client names by `jwks_uri` are fetched through oidc-provider's guard, which refuses
 * special-use addresses (loopback, private, link-local): an attacker who registers
 * `https://10.0.0.5/…` or `https://127.0.0.1:…/…` gets its token request refused, and nothing
 * there receives a request. The guard installs itself only outside jest's module sandbox (it
 * looks for Node's own fetch dispatcher on the real global object), so this runs real idport
 * processes (`node dist/main.js`). The key server is real HTTPS on 127.0.0.1 with a certificate
 * made here and trusted by idport (NODE_EXTRA_CA_CERTS), so the only thing between idport and
 * the keys is the guard: with a plain-http issuer (development, where the guard is left out on
 * purpose so an RP on the same machine can serve its keys), the same client signs in.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, SignJWT } from 'jose';

import { describeNode, expectCleanStop, freePort, servingUrl, startNode, type IdportNode } from '../helpers/nodes.js';
import { killAll } from '../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-fetch-guard-'));
const nodes: IdportNode[] = [];
let keyServer: Server;
let keyServerUrl: string;
/** what the key server saw: TCP connections, and HTTP requests for the keys */
const seen = { connections: 0, requests: 0 };
let signingKey: CryptoKey;

beforeAll(async () => {
  // A certificate for 127.0.0.1, trusted by the idport processes below and nothing else.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  signingKey = privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig', kid: 'k1' }] });
  keyServer = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    seen.requests += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  keyServer.on('connection', () => (seen.connections += 1));
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  keyServerUrl = `https://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks`;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ registration: { mode: 'open', requestsPerIpPerMinute: 1000 } }));
});

afterAll(async () => {
  try {
    await expectCleanStop(nodes);
  } finally {
    killAll();
    await new Promise((resolve) => keyServer?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A real idport on a fresh SQLite file, with open registration and the test certificate trusted. */
async function node(name: string, issuer: (port: number) => string) {
  const port = await freePort();
  const n = startNode(name, port, {
    issuer: issuer(port),
    databaseUrl: `sqlite:${join(dir, `${name}.db`)}`,
    configFile: join(dir, 'config.json'),
    env: { NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
  });
  nodes.push(n);
  await servingUrl(n);
  return { issuer: issuer(port), origin: n.origin, describe: () => describeNode(n) };
}

/** Registers a machine client whose keys are at the key server, then asks for a token with a key it signed. */
async function registerAndAskForToken({ issuer, origin }: { issuer: string; origin: string }) {
  const reg = await fetch(`${origin}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Key fetcher', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: keyServerUrl }),
  });
  const client = (await reg.json()) as { client_id?: string };
  expect(reg.status).toBe(201);
  const clientId = client.client_id!;
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(issuer)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(signingKey);
  const res = await fetch(`${origin}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('https issuer: a client whose jwks_uri is on a loopback address gets no token, and its key server gets no request', async () => {
  const idp = await node('https-issuer', () => 'https://idp.example.test');
  const before = { ...seen };
  const res = await registerAndAskForToken(idp);
  expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_client' });
  expect(res.body.access_token).toBeUndefined();
  // idport did go for the keys: the guard lets the connection open (it judges the address it
  // connected to, so a name that resolves elsewhere later cannot slip past), then closes it
  // before a request is written.
  expect(seen.connections - before.connections).toBeGreaterThan(0);
  expect(seen.requests - before.requests).toBe(0);
}, 60_000);

test('plain-http issuer (development, no guard): the same client and key server give a token, so the refusal above is the guard', async () => {
  const dev = await node('http-issuer', (port) => `http://127.0.0.1:${port}`);
  const before = { ...seen };
  const res = await registerAndAskForToken(dev);
  expect(res.status).toBe(200);
  expect(typeof res.body.access_token).toBe('string');
  expect(seen.requests - before.requests).toBeGreaterThan(0);
}, 60_000);
