/**
 * Pushed authorization requests (RFC 9126) and DPoP (RFC 9449), proven over real HTTP with
 * openid-client: discovery advertises both; a pushed request is used once; a client registered
 * with --require-par cannot send a plain one; DPoP-bound tokens are good only with a proof of their
 * key; a proof is good once, across two nodes over one store, even when sent to both at the same
 * moment; a DPoP nonce from one node is good on the other; and the example API checks the binding
 * of a JWT access token (cnf.jkt) on its own.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';

import { start as startApi, type RunningApi } from '../../examples/api/server.mjs';
import { parseCliArgs } from '../../src/cli/args.js';
import { clientFromArgs } from '../../src/cli/commands/clients.js';
import { addClient, addUser, authorize, discover, type LoginOptions } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const audience = 'https://api.example.com';
const redirectUri = 'http://127.0.0.1:8080/callback';

/** node 1 (the issuer's address) and node 2: two servers over one SQLite file */
let node1: TestServer | undefined;
let node2: TestServer | undefined;
let issuer: string;
let aliceId: string;
let client: Awaited<ReturnType<typeof addClient>>;
let config: oidc.Configuration;
let exampleApi: RunningApi | undefined;

beforeAll(async () => {
  node1 = await startTestServer();
  issuer = node1.url;
  aliceId = (await addUser(node1.store)).id;
  await node1.store.apis.upsert({ audience, name: null, scopes: ['read:things'], tokenFormat: 'jwt', accessTokenTtl: null });
  client = await addClient(node1.store, { client_name: 'PAR and DPoP app', api_scopes: ['read:things'] });
  config = await discover(issuer, client.client_id, client.client_secret);
  // The second node: its own port, the same store and issuer (a load balancer's two backends).
  node2 = await startTestServer({ issuer }, node1.dir);
  exampleApi = await startApi({ issuer, audience, port: 0 });
});

afterAll(async () => {
  await exampleApi?.close();
  await node2?.close(); // keeps the shared directory
  await node1?.stop();
});

const withPar: LoginOptions['buildUrl'] = (c, parameters) => oidc.buildAuthorizationUrlWithPAR(c, parameters);

/** A login through the real pages, redeemed (with a DPoP proof when `DPoP` is given). */
async function signIn(c: oidc.Configuration, options: LoginOptions & { DPoP?: oidc.DPoPHandle } = {}) {
  const { DPoP, ...login } = options;
  const { callback, verifier, state, nonce } = await authorize(c, issuer, login);
  return oidc.authorizationCodeGrant(
    c,
    callback,
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    DPoP ? { DPoP } : undefined,
  );
}

/** The error openid-client threw for an error response (or fails the test). */
async function oauthError(promise: Promise<unknown>): Promise<{ error: string; error_description?: string; status: number }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(oidc.ResponseBodyError);
  const { error, error_description, status } = err as oidc.ResponseBodyError;
  return { error, error_description, status };
}

type KeyPair = Awaited<ReturnType<typeof oidc.randomDPoPKeyPair>>;

interface Proof {
  keyPair: KeyPair;
  htm: string;
  htu: string;
  accessToken?: string;
  nonce?: string;
  jti?: string;
}

/** A DPoP proof JWT made by hand (RFC 9449 §4.2). */
async function dpopProof({ keyPair, htm, htu, accessToken, nonce, jti = randomUUID() }: Proof): Promise<string> {
  const jwk = await exportJWK(keyPair.publicKey);
  const ath = accessToken ? Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))).toString('base64url') : undefined;
  return new SignJWT({ htm, htu, jti, ...(ath ? { ath } : {}), ...(nonce ? { nonce } : {}) })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
    .setIssuedAt()
    .sign(keyPair.privateKey);
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GET `path` on one node, with the Host of the issuer, as a load balancer in front of both nodes
 * would pass it on (so the proof's htu, `${issuer}${path}`, is right on either node).
 */
function get(node: TestServer, path: string, headers: Record<string, string>): Promise<Answer> {
  const { port } = node.server.address() as { port: number };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers: { host: new URL(issuer).host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET /me with a DPoP-bound token and this proof. */
const userinfo = (node: TestServer, token: string, proof: string) => get(node, '/me', { authorization: `DPoP ${token}`, dpop: proof });

/** A DPoP key pair, its thumbprint, and tokens (DPoP-bound, for userinfo) from a fresh login. */
async function dpopLogin(extra?: Record<string, string>, scope?: string) {
  const keyPair = await oidc.randomDPoPKeyPair();
  const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
  const DPoP = oidc.getDPoPHandle(config, keyPair);
  const tokens = await signIn(config, { DPoP, extra, scope });
  return { keyPair, jkt, DPoP, tokens };
}

describe('discovery', () => {
  test('advertises the PAR endpoint and the DPoP algorithms; PAR is not required of every client', async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta.pushed_authorization_request_endpoint).toBe(`${issuer}/request`);
    expect(meta.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
    // RFC 9126 §5: absent means false (oidc-provider leaves it out unless it is true)
    expect(meta.require_pushed_authorization_requests ?? false).toBe(false);
    expect(config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${issuer}/request`);
  });
});

describe('pushed authorization requests (RFC 9126)', () => {
  test('the request is pushed, the browser carries only client_id and request_uri, the code is redeemed; the request_uri is good once', async () => {
    let pushed: URL | undefined;
    const { callback, verifier, state, nonce, ua } = await authorize(config, issuer, {
      buildUrl: async (c, parameters) => (pushed = await oidc.buildAuthorizationUrlWithPAR(c, parameters)),
    });
    expect(pushed!.href.startsWith(`${issuer}/auth?`)).toBe(true);
    expect([...pushed!.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(pushed!.searchParams.get('client_id')).toBe(client.client_id);
    expect(pushed!.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:.+/);
    expect(callback.searchParams.get('state')).toBe(state);

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()!.sub).toBe(aliceId);

    // The same request_uri again (same browser, still signed in): refused, no code. (The client
    // has one redirect_uri, so oidc-provider can send the error there.)
    const again = await ua.follow(pushed!, issuer);
    expect(again.left).toBeDefined();
    expect(again.left!.origin + again.left!.pathname).toBe(redirectUri);
    expect(again.left!.searchParams.get('error')).toBe('invalid_request_uri');
    expect(again.left!.searchParams.get('error_description')).toBe('request_uri is invalid, expired, or was already used');
    expect(again.left!.searchParams.get('code')).toBeNull();
  });

  test('a client registered with --require-par: a plain authorization request is refused, a pushed one works', async () => {
    const metadata = clientFromArgs(parseCliArgs(['--name', 'PAR only', '--redirect-uri', redirectUri, '--require-par']));
    expect(metadata.require_pushed_authorization_requests).toBe(true);
    await node1!.store.clients.upsert(metadata);
    const parOnly = await discover(issuer, metadata.client_id, metadata.client_secret as string);

    const plain = await authorize(parOnly, issuer);
    expect(plain.callback.origin + plain.callback.pathname).toBe(redirectUri);
    expect(plain.callback.searchParams.get('error')).toBe('invalid_request');
    expect(plain.callback.searchParams.get('error_description')).toBe('Pushed Authorization Request must be used');
    expect(plain.callback.searchParams.get('code')).toBeNull();

    const tokens = await signIn(parOnly, { buildUrl: withPar });
    expect(tokens.claims()!.sub).toBe(aliceId);
  });
});

describe('DPoP (RFC 9449) at the token and userinfo endpoints', () => {
  test('tokens redeemed with a proof are DPoP tokens bound to the key; userinfo takes them only with a proof of that key', async () => {
    const { keyPair, jkt, DPoP, tokens } = await dpopLogin();
    expect(tokens.token_type).toBe('dpop'); // (openid-client lowercases it)
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });

    const me = await oidc.fetchUserInfo(config, tokens.access_token, aliceId, { DPoP });
    expect(me.sub).toBe(aliceId);

    // The same token as a plain bearer token: refused.
    const bearer = await get(node1!, '/me', { authorization: `Bearer ${tokens.access_token}` });
    expect(bearer.status).toBe(401);
    expect(bearer.body).toContain('invalid_token');
    // … and as a DPoP token with a (valid) proof from another key: refused.
    const otherKey = await oidc.randomDPoPKeyPair();
    const wrongKey = await userinfo(node1!, tokens.access_token, await dpopProof({ keyPair: otherKey, htm: 'GET', htu: `${issuer}/me`, accessToken: tokens.access_token }));
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body).toContain('invalid_token');
    // The right key still works (nothing above spent the token).
    const right = await userinfo(node1!, tokens.access_token, await dpopProof({ keyPair, htm: 'GET', htu: `${issuer}/me`, accessToken: tokens.access_token }));
    expect(right.status).toBe(200);
    expect(JSON.parse(right.body)).toMatchObject({ sub: aliceId });
  });

  test('a client with dpop_bound_access_tokens (--require-dpop) gets no tokens without a proof', async () => {
    const metadata = clientFromArgs(parseCliArgs(['--name', 'DPoP only', '--redirect-uri', redirectUri, '--require-dpop']));
    expect(metadata.dpop_bound_access_tokens).toBe(true);
    await node1!.store.clients.upsert(metadata);
    const dpopOnly = await discover(issuer, metadata.client_id, metadata.client_secret as string);

    const refused = await oauthError(signIn(dpopOnly));
    // (oidc-provider does not say why an invalid_grant happened; the same login with a proof works)
    expect(refused).toMatchObject({ status: 400, error: 'invalid_grant' });

    const tokens = await signIn(dpopOnly, { DPoP: oidc.getDPoPHandle(dpopOnly, await oidc.randomDPoPKeyPair()) });
    expect(tokens.token_type).toBe('dpop');
  });
});

describe('DPoP proofs are good once, on any node', () => {
  let keyPair: KeyPair;
  let token: string;
  const proof = (extra: Partial<Proof> = {}) => dpopProof({ keyPair, htm: 'GET', htu: `${issuer}/me`, accessToken: token, ...extra });

  beforeAll(async () => {
    ({ keyPair, tokens: { access_token: token } } = await dpopLogin());
  });

  test('the same proof twice on one node: the second is refused', async () => {
    const once = await proof();
    expect((await userinfo(node1!, token, once)).status).toBe(200);
    const replay = await userinfo(node1!, token, once);
    expect(replay.status).toBe(401);
    expect(JSON.parse(replay.body)).toMatchObject({ error: 'invalid_token' });
    // the token is fine: a new proof for it is accepted
    expect((await userinfo(node1!, token, await proof())).status).toBe(200);
  });

  test('used on node 1, then sent to node 2: refused there', async () => {
    const once = await proof();
    // (node 2 serves the token and fresh proofs)
    expect((await userinfo(node2!, token, await proof())).status).toBe(200);
    expect((await userinfo(node1!, token, once)).status).toBe(200);
    const replay = await userinfo(node2!, token, once);
    expect(replay.status).toBe(401);
    expect(JSON.parse(replay.body)).toMatchObject({ error: 'invalid_token' });
  });

  test('sent to both nodes at the same moment, several times: exactly one is accepted', async () => {
    for (let round = 0; round < 3; round += 1) {
      const once = await proof();
      const answers = await Promise.all([node1, node2, node1, node2].map((n) => userinfo(n!, token, once)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401, 401]);
    }
  });
});

describe('DPoP nonces are shared by the nodes', () => {
  test('a nonce from node 1 is accepted by node 2; a made-up one is answered with use_dpop_nonce and a real one', async () => {
    const { keyPair, tokens } = await dpopLogin();
    const token = tokens.access_token;
    const proof = (nonce?: string) => dpopProof({ keyPair, htm: 'GET', htu: `${issuer}/me`, accessToken: token, nonce });

    const first = await userinfo(node1!, token, await proof());
    expect(first.status).toBe(200);
    const nonce = first.headers['dpop-nonce'];
    expect(typeof nonce).toBe('string');

    const onNode2 = await userinfo(node2!, token, await proof(nonce as string));
    expect(onNode2.status).toBe(200);
    expect(JSON.parse(onNode2.body)).toMatchObject({ sub: aliceId });

    const madeUp = await userinfo(node2!, token, await proof('bm90LWEtcmVhbC1ub25jZS1hdC1hbGwtMDEyMzQ1Njc4OQ'));
    expect(madeUp.status).toBe(401);
    expect(madeUp.headers['www-authenticate']).toMatch(/^DPoP .*error="use_dpop_nonce"/);
    expect(typeof madeUp.headers['dpop-nonce']).toBe('string');
    // the nonce node 2 hands out works on node 1
    expect((await userinfo(node1!, token, await proof(madeUp.headers['dpop-nonce'] as string))).status).toBe(200);
  });
});

describe('a JWT access token for an API, bound to a DPoP key (cnf.jkt), at the example API', () => {
  test('the API takes it with a proof for its URL, and refuses it as Bearer, with a proof for another request, or a replayed proof', async () => {
    const { keyPair, jkt, DPoP, tokens } = await dpopLogin({ resource: audience }, 'openid read:things');
    const token = tokens.access_token;
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ aud: audience, sub: aliceId, cnf: { jkt } });
    const things = `${exampleApi!.url}/things`;

    // openid-client's DPoP handle: 200
    const ok = await oidc.fetchProtectedResource(config, token, new URL(things), 'GET', undefined, undefined, { DPoP });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ caller: { sub: aliceId, client_id: client.client_id, scopes: ['read:things'] } });

    const call = (headers: Record<string, string>) => fetch(things, { headers });
    const proof = (extra: Partial<Proof> = {}) => dpopProof({ keyPair, htm: 'GET', htu: things, accessToken: token, ...extra });

    // As a bearer token: refused.
    const bearer = await call({ authorization: `Bearer ${token}` });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    // … even with a valid proof alongside (RFC 9449 §7.2)
    const bearerWithProof = await call({ authorization: `Bearer ${token}`, dpop: await proof() });
    expect(bearerWithProof.status).toBe(401);
    expect(bearerWithProof.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);

    // Proofs for another method, another URL: refused in the DPoP scheme.
    for (const wrong of [{ htm: 'POST' }, { htu: `${exampleApi!.url}/other` }]) {
      const res = await call({ authorization: `DPoP ${token}`, dpop: await proof(wrong) });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof".*algs="[^"]*ES256/);
      expect(await res.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof is for another request' });
    }

    // The caller's Origin header does not change the URL the proof must be for.
    const elsewhere = await call({ authorization: `DPoP ${token}`, dpop: await proof({ htu: 'https://elsewhere.example/things' }), origin: 'https://elsewhere.example' });
    expect(elsewhere.status).toBe(401);
    expect(await elsewhere.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof is for another request' });

    // A proof by hand: good once.
    const once = await proof();
    expect((await call({ authorization: `DPoP ${token}`, dpop: once })).status).toBe(200);
    const replay = await call({ authorization: `DPoP ${token}`, dpop: once });
    expect(replay.status).toBe(401);
    expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
    expect(await replay.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'this DPoP proof was used already' });
  });
});
