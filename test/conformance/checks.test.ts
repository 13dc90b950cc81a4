/**
 * The per-flow checks themselves (checks.ts), without a server: each of the suite's conditions
 * must find what it is there to find, so that a check quietly made permissive fails here.
 */
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWK } from 'jose';

import {
  authorizationErrorFindings,
  authorizationResponseFindings,
  halfHash,
  idTokenFindings,
  refreshedIdTokenFindings,
  serverJwksFindings,
  signatureFindings,
  standardClaimFindings,
  tokenErrorFindings,
  tokenResponseFindings,
  unrequestedClaimFindings,
} from './checks.js';
import { endSessionState, forgedIdTokenHint, suiteRandomValue } from './suite-values.js';

const issuer = 'https://idp.example.test';
const clientId = 'rp';
const now = () => Math.floor(Date.now() / 1000);

async function rsaKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } as JWK };
}

const conditions = (findings: string[]) => findings.map((f) => f.slice(0, f.indexOf(':')));

describe('the checks the suite runs on every flow', () => {
  let key: Awaited<ReturnType<typeof rsaKey>>;
  let jwks: JSONWebKeySet;
  const sign = (claims: Record<string, unknown>, kid = 'k1', privateKey = key.privateKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
  beforeAll(async () => {
    key = await rsaKey('k1');
    jwks = { keys: [key.jwk] };
  });

  test('the server JWKS: kids present and distinct, public keys only', async () => {
    expect(await serverJwksFindings(jwks)).toEqual([]);
    const noKid = { ...key.jwk, kid: undefined };
    const findings = await serverJwksFindings({ keys: [key.jwk, key.jwk, noKid, { ...key.jwk, kid: 'p', d: 'AQAB' }, { kty: 'oct', k: 'c2VjcmV0', kid: 's' }] });
    expect(conditions(findings)).toEqual(expect.arrayContaining([
      'CheckDistinctKeyIdValueInServerJWKs', 'CheckForKeyIdInServerJWKs', 'EnsureJwksHasNoPrivateOrSymmetricKeyMaterial',
    ]));
  });

  test('the ID token signature: the one key matching kid/alg/use, and it verifies', async () => {
    const other = await rsaKey('k1');
    expect(await signatureFindings(await sign({ sub: 'a' }), jwks)).toEqual([]);
    expect(await signatureFindings(await sign({ sub: 'a' }, 'k1', other.privateKey), jwks)).toEqual([expect.stringMatching(/^ValidateIdTokenSignature: .*does not verify/)]);
    expect(await signatureFindings(await sign({ sub: 'a' }, 'elsewhere'), jwks)).toEqual([expect.stringMatching(/^ValidateIdTokenSignature: 0 keys/)]);
    expect(await signatureFindings(await sign({ sub: 'a' }), { keys: [key.jwk, key.jwk] })).toEqual([expect.stringMatching(/^ValidateIdTokenSignature: 2 keys/)]);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.`;
    expect(await signatureFindings(unsigned, jwks)).toEqual(['ValidateIdTokenSignature: the ID token is not signed']);
  });

  test('the ID token claims, hashes and nonce', async () => {
    const good = { iss: issuer, aud: clientId, sub: 'buffy', iat: now(), exp: now() + 300, nonce: 'n', c_hash: halfHash('the-code', 'RS256') };
    const want = { issuer, clientId, nonce: 'n', code: 'the-code' };
    expect((await idTokenFindings(await sign(good), jwks, want)).findings).toEqual([]);
    const bad = { ...good, iss: 'https://evil.example', aud: ['other'], exp: Date.now(), nonce: undefined, birthdate: '19-01-1981', updated_at: now() + 3600, c_hash: 'wrong', sub: 'é' };
    const { findings } = await idTokenFindings(await sign(bad), jwks, want);
    expect(conditions(findings)).toEqual([
      'ValidateIdToken', 'ValidateIdToken', 'ValidateIdToken', 'ValidateIdTokenStandardClaims', 'ValidateIdTokenNonce',
      'CheckForSubjectInIdToken', 'EnsureIdTokenUpdatedAtValid', 'ValidateCHash',
    ]);
    expect(standardClaimFindings({ sub: 'a', name: 'null', email_verified: 'true' }, 'UserInfo')).toHaveLength(2);
  });

  test('no claims nobody asked for in the ID token', () => {
    const request = (scope: string, claims?: object) => ({ params: { scope, ...(claims ? { claims: JSON.stringify(claims) } : {}) } });
    expect(unrequestedClaimFindings({ sub: 'a', email: 'b' }, request('openid'))).toEqual(['EnsureIdTokenDoesNotContainNonRequestedClaims: email (scope "openid")']);
    expect(unrequestedClaimFindings({ sub: 'a', email: 'b' }, request('openid email'))).toEqual([]);
    expect(unrequestedClaimFindings({ sub: 'a', name: 'b' }, request('openid', { id_token: { name: null } }))).toEqual([]);
  });

  test('a refreshed ID token against the first one (CompareIdTokenClaims)', () => {
    const first = { iss: issuer, sub: 'a', aud: clientId, iat: 100, auth_time: 90 };
    expect(refreshedIdTokenFindings(first, { ...first, iat: 101 })).toEqual([]);
    expect(conditions(refreshedIdTokenFindings(first, { ...first, azp: clientId, auth_time: 95 }))).toEqual(['CompareIdTokenClaims', 'CompareIdTokenClaims', 'CompareIdTokenClaims']);
  });

  test('token responses: no-store, Bearer, expires_in, token syntax and length', () => {
    const body = { access_token: suiteRandomValue(43), token_type: 'Bearer', expires_in: 3600, id_token: 'x', refresh_token: suiteRandomValue(43) };
    const ok = { status: 200, type: 'application/json; charset=utf-8', cacheControl: 'no-store', body };
    expect(tokenResponseFindings(ok, { idToken: 'required' })).toEqual([]);
    const broken = { ...ok, cacheControl: 'no-cache', body: { ...body, token_type: 'mac', expires_in: 3_600_000_000, refresh_token: 'abc' } };
    expect(conditions(tokenResponseFindings(broken, { idToken: 'required' }))).toEqual([
      'CheckTokenEndpointCacheHeaders', 'CheckTokenTypeIsBearer', 'ValidateExpiresIn', 'EnsureMinimumRefreshTokenLength', 'EnsureMinimumRefreshTokenEntropy',
    ]);
    const error = { status: 401, type: 'text/html', cacheControl: null, body: { error: 'invalid_client', error_description: 'say "no"' } };
    expect(conditions(tokenErrorFindings(error, 'invalid_grant'))).toEqual([
      'CheckTokenEndpointHttpStatus400', 'CheckTokenEndpointReturnedJsonContentType', 'CheckErrorFromTokenEndpointResponseError', 'ValidateErrorDescriptionFromTokenEndpointResponseError',
    ]);
  });

  test('authorization responses and errors', () => {
    const request = { params: { redirect_uri: 'https://rp.example/cb?dummy1=lorem' }, state: 'abc' };
    const ok = new URL(`https://rp.example/cb?dummy1=lorem&code=${suiteRandomValue(43)}&state=abc&iss=${encodeURIComponent(issuer)}`);
    expect(authorizationResponseFindings(ok, request, issuer)).toEqual([]);
    expect(conditions(authorizationResponseFindings(new URL('https://rp.example/cb?code=aaaa&state=abd'), request, issuer))).toEqual([
      'CheckMatchingCallbackParameters', 'CheckStateInAuthorizationResponse', 'EnsureMinimumAuthorizationCodeLength', 'EnsureMinimumAuthorizationCodeEntropy',
    ]);
    const error = new URL('https://rp.example/cb?dummy1=lorem&error=login_required&state=abc');
    expect(authorizationErrorFindings(error, request, issuer)).toEqual([]);
    const wrong = new URL('https://rp.example/cb?error=login_required&error_description=%22no%22&error_uri=not%20a%20uri&code=x&scope=openid&state=abc&iss=https://evil.example');
    expect(conditions(authorizationErrorFindings(wrong, request, issuer))).toEqual([
      'ValidateIssIfPresentInAuthorizationResponse', 'RejectAuthCodeInAuthorizationEndpointResponse',
      'CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint', 'ValidateErrorDescriptionFromAuthorizationEndpointResponseError',
      'ValidateErrorUriFromAuthorizationEndpointResponseError',
    ]);
  });
});

describe("the suite's request values", () => {
  test('state and nonce: alphanumerics, longer ones ending in -._~', () => {
    expect(suiteRandomValue()).toMatch(/^[A-Za-z0-9]{10}$/);
    expect(suiteRandomValue(128)).toMatch(/^[A-Za-z0-9]{124}-\._~$/);
  });

  test('the end-session state: letters, digits and RFC 6749 punctuation without + space ;', () => {
    const states = Array.from({ length: 50 }, endSessionState);
    for (const state of states) expect(state).toMatch(/^[A-Za-z]{50}[0-9]{10}[!-/:-@[-`{-~]{30}$/);
    expect(states.join('')).not.toMatch(/[+ ;]/);
  });

  test('the forged id_token_hint: HS256 with the client secret, iss and aud swapped, no kid', async () => {
    const hint = await forgedIdTokenHint(issuer, { client_id: clientId, client_secret: 'a-client-secret-of-32-bytes-or-more' });
    expect(decodeProtectedHeader(hint)).toEqual({ alg: 'HS256' });
    expect(decodeJwt(hint)).toMatchObject({ iss: clientId, aud: issuer, sub: 'SubjectID', nonce: 'flibble' });
  });
});
