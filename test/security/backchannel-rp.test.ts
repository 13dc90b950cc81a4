/**
 * Attacks on the example app's back-channel logout endpoint (examples/rp-web POST
 * /backchannel-logout): whoever can reach it may POST anything, so every logout token that is not
 * exactly what idport sends this app — other key, other audience, a nonce, no event, replayed,
 * expired, unsigned, no subject — gets 400 with an OAuth error body, and no session ends.
 */
import { generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

import { start as startApp, type AppSession, type RunningApp } from '../../examples/rp-web/server.mjs';
import { loadKeySet } from '../../src/keys/key-manager.js';
import { signLogoutToken } from '../../src/logout/logout-token.js';
import { addClient } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const event = 'http://schemas.openid.net/event/backchannel-logout';
const sub = 'account-1';

let server: TestServer;
let app: RunningApp;
const sessions = new Map<string, AppSession>();
let clientId: string;
let otherClientId: string;
let idportKey: { key: CryptoKey | Uint8Array; kid: string };

beforeAll(async () => {
  server = await startTestServer();
  const client = await addClient(server.store, { backchannel_logout_uri: 'http://127.0.0.1:9/backchannel-logout' });
  clientId = client.client_id;
  otherClientId = (await addClient(server.store, { backchannel_logout_uri: 'http://127.0.0.1:9/other' })).client_id;
  app = await startApp({ issuer: server.url, clientId, clientSecret: client.client_secret, port: 0, apiAudience: '', sessions });
  const rs256 = (await loadKeySet(server.store)).jwks.keys.find((k: JWK) => k.alg === 'RS256' || k.kty === 'RSA')!;
  idportKey = { key: await importJWK(rs256, 'RS256'), kid: rs256.kid! };
});

afterAll(async () => {
  await app?.close();
  await server?.stop();
});

/** A signed-in session of the app for `sid`; its id. */
function session(sid: string): string {
  const id = `session-${sid}`;
  sessions.set(id, { csrf: 'x', expiresAt: Date.now() + 60_000, user: { claims: { sub, sid }, idToken: 'x', accessToken: 'x', expiresAt: Date.now() + 60_000 } });
  return id;
}

/** What idport itself sends this app (or `client`) for `sid`. */
async function realToken(sid: string, client = clientId) {
  const provider = server.idport.provider();
  return signLogoutToken(provider, (await provider.Client.find(client))!, { sub, sid });
}

/** A token with idport's key and kid (unless `key` is given), with `claims` over a valid set. */
async function forged(claims: JWTPayload & Record<string, unknown>, { key, typ = 'logout+jwt', drop = [] as string[] } = {} as { key?: CryptoKey; typ?: string; drop?: string[] }) {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: server.url, aud: clientId, iat: now, exp: now + 120, jti: `jti-${Math.random()}`, sub, events: { [event]: {} }, ...claims };
  for (const d of drop) delete payload[d];
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: idportKey.kid, typ }).sign(key ?? idportKey.key);
}

async function post(token: string | undefined) {
  const res = await fetch(`${app.url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(token === undefined ? {} : { logout_token: token }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, cache: res.headers.get('cache-control') };
}

/** The token is refused (400, error body per the spec) and the session for `sid` survives. */
async function expectRefused(token: string | undefined, sid: string, why: RegExp) {
  const id = session(sid);
  const res = await post(token);
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(why) });
  expect(res.cache).toBe('no-store');
  expect(sessions.has(id)).toBe(true);
}

test('the token idport sends ends the session of that sid only (200), and a replay of it is refused', async () => {
  const mine = session('sid-1');
  const other = session('sid-2');
  const token = await realToken('sid-1');
  expect(await post(token)).toMatchObject({ status: 200 });
  expect(sessions.has(mine)).toBe(false);
  expect(sessions.has(other)).toBe(true);
  expect(app.backchannelLogouts.at(-1)).toMatchObject({ sid: 'sid-1', sub, sessionsEnded: 1 });
  // Replayed (same jti): refused, and the new session for that sid stays.
  await expectRefused(token, 'sid-1', /already used/);
});

test('a token with only sub ends every session of that user', async () => {
  const a = session('sid-3');
  const b = session('sid-4');
  expect((await post(await forged({}, { drop: ['sid'] }))).status).toBe(200);
  expect([sessions.has(a), sessions.has(b)]).toEqual([false, false]);
});

test('signed with another key (even under idport’s kid)', async () => {
  const { privateKey } = await generateKeyPair('RS256');
  await expectRefused(await forged({ sid: 'sid-5' }, { key: privateKey }), 'sid-5', /signature/);
});

test('for another client (aud), though idport signed it', async () => {
  await expectRefused(await realToken('sid-6', otherClientId), 'sid-6', /aud/);
});

test('from another issuer', async () => {
  await expectRefused(await forged({ sid: 'sid-7', iss: 'https://evil.example.com' }), 'sid-7', /iss/);
});

test('with a nonce (an ID token is not a logout token)', async () => {
  await expectRefused(await forged({ sid: 'sid-8', nonce: 'n-0S6_WzA2Mj' }), 'sid-8', /nonce/);
});

test('without the events claim, or with another event', async () => {
  await expectRefused(await forged({ sid: 'sid-9' }, { drop: ['events'] }), 'sid-9', /events/);
  await expectRefused(await forged({ sid: 'sid-9', events: { 'http://schemas.openid.net/event/other': {} } }), 'sid-9', /back-channel logout event/);
  await expectRefused(await forged({ sid: 'sid-9', events: { [event]: 'yes' } }), 'sid-9', /back-channel logout event/);
});

test('expired, or issued long ago', async () => {
  const now = Math.floor(Date.now() / 1000);
  await expectRefused(await forged({ sid: 'sid-10', iat: now - 400, exp: now - 200 }), 'sid-10', /exp/);
  await expectRefused(await forged({ sid: 'sid-10', iat: now - 3600, exp: now + 60 }), 'sid-10', /iat|age/);
});

test('neither sid nor sub, no jti, typed as another kind of JWT, unsigned, or missing', async () => {
  await expectRefused(await forged({}, { drop: ['sid', 'sub'] }), 'sid-11', /sid or sub/);
  await expectRefused(await forged({ sid: 'sid-11' }, { drop: ['jti'] }), 'sid-11', /jti/);
  await expectRefused(await forged({ sid: 'sid-11' }, { typ: 'JWT' }), 'sid-11', /typ/);
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: server.url, aud: clientId, iat: now, exp: now + 60, jti: 'none-1', sub, sid: 'sid-11', events: { [event]: {} } };
  const unsigned = `${Buffer.from('{"alg":"none","typ":"logout+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  await expectRefused(unsigned, 'sid-11', /alg|ERR_JOSE/);
  await expectRefused(undefined, 'sid-11', /missing/);
});
