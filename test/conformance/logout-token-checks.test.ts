/**
 * The logout-token checks themselves (logout-token-checks.ts), without a server: each must find
 * what it is there to find, so that a check quietly made permissive fails here.
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

import type { LogoutDelivery } from '../helpers/logout-receiver.js';
import { logoutRequestFindings } from './logout-token-checks.js';

const issuer = 'https://idp.example.test';
const clientId = 'rp';
const event = 'http://schemas.openid.net/event/backchannel-logout';
const idToken = { iss: issuer, sub: 'user-1', aud: clientId, sid: 'sid-1' };
let privateKey: CryptoKey;
let jwks: { keys: JWK[] };
let otherKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };
  otherKey = (await generateKeyPair('RS256')).privateKey;
});

async function token(claims: JWTPayload & Record<string, unknown> = {}, { typ = 'logout+jwt', key = privateKey, drop = [] as string[] } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: issuer, aud: clientId, iat: now, exp: now + 120, jti: 'j1', sub: 'user-1', sid: 'sid-1', events: { [event]: {} }, ...claims };
  for (const d of drop) delete payload[d];
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'k1', typ }).sign(key);
}

const delivery = (t: string, over: Partial<LogoutDelivery> = {}): LogoutDelivery => ({ method: 'POST', contentType: 'application/x-www-form-urlencoded', token: t, fields: ['logout_token'], at: 0, ...over });
const findings = async (d: LogoutDelivery) => (await logoutRequestFindings(d, { issuer, clientId, idToken, jwks })).findings;

test('a correct logout request has no findings', async () => {
  expect(await findings(delivery(await token()))).toEqual([]);
});

test.each([
  ['GET', async () => delivery(await token(), { method: 'GET' }), /IsPost/],
  ['a JSON body', async () => delivery(await token(), { contentType: 'application/json' }), /content type/],
  ['no logout_token', async () => delivery('', { token: null }), /no logout_token/],
  ['an extra parameter', async () => delivery(await token(), { fields: ['logout_token', 'state'] }), /Unexpected/],
  ['typ JWT', async () => delivery(await token({}, { typ: 'JWT' })), /CheckLogoutTokenTyp/],
  ['another key', async () => delivery(await token({}, { key: otherKey })), /ValidateLogoutTokenSignature/],
  ['another issuer', async () => delivery(await token({ iss: 'https://evil.example' })), /iss/],
  ['another audience', async () => delivery(await token({ aud: 'other-rp' })), /aud/],
  ['an old iat', async () => delivery(await token({ iat: Math.floor(Date.now() / 1000) - 3600 })), /iat/],
  ['no exp', async () => delivery(await token({}, { drop: ['exp'] })), /exp/],
  ['no jti', async () => delivery(await token({}, { drop: ['jti'] })), /jti/],
  ['no events', async () => delivery(await token({}, { drop: ['events'] })), /events/],
  ['an event that is not an object', async () => delivery(await token({ events: { [event]: true } })), /events/],
  ['a nonce', async () => delivery(await token({ nonce: 'n' })), /nonce/],
  ['neither sid nor sub', async () => delivery(await token({}, { drop: ['sid', 'sub'] })), /neither sid nor sub/],
  ['another sid', async () => delivery(await token({ sid: 'sid-2' })), /SidMatchesIdToken/],
  ['another sub', async () => delivery(await token({ sub: 'user-2' })), /SubMatchesIdToken/],
])('finds %s', async (_what, make, finding) => {
  const found = await findings(await make());
  expect(found.join('\n')).toMatch(finding);
});
