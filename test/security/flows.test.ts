/**
 * Attacks on the choice of flow and on PKCE: implicit/hybrid response types, the password grant,
 * missing or weak PKCE, and parameters given twice.
 */
import * as oidc from 'openid-client';

import {
  afterEachHealthy,
  alice,
  authUrl,
  expectBackAtClient,
  expectErrorPage,
  freshCode,
  get,
  redeem,
  setup,
  tokenRequest,
  CALLBACK,
  type Env,
} from './helpers.js';

let env: Env;

beforeAll(async () => {
  env = await setup();
});
afterAll(() => env.server.stop());
afterEachHealthy(() => [env?.server]);

describe('no implicit or hybrid flow', () => {
  test.each([
    ['token', 'fragment'],
    ['id_token', 'fragment'],
    ['code id_token', 'fragment'],
    ['code token', 'fragment'],
    ['id_token token', 'fragment'],
  ] as const)('response_type=%s → unsupported_response_type back at the client in the %s', async (responseType, where) => {
    const res = await get(authUrl(env, { response_type: responseType }));
    const params = expectBackAtClient(res, CALLBACK, where);
    expect(params.get('error')).toBe('unsupported_response_type');
    expect(params.get('state')).toBe('state-123');
    for (const leaked of ['code', 'access_token', 'id_token']) expect(params.get(leaked)).toBeNull();
  });

  test('discovery advertises response_type code only, no implicit grant', async () => {
    const meta = (await (await fetch(`${env.url}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.grant_types_supported).not.toContain('password');
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
  });

  test('password grant with alice\'s real credentials → 400 unsupported_grant_type', async () => {
    const res = await tokenRequest(env, { grant_type: 'password', username: alice.username, password: alice.password, scope: 'openid' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unsupported_grant_type');
    expect(res.body.access_token).toBeUndefined();
  });
});

describe('PKCE', () => {
  test('missing code_challenge → invalid_request back at the client, no code', async () => {
    const res = await get(authUrl(env, { code_challenge: undefined, code_challenge_method: undefined }));
    const params = expectBackAtClient(res);
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toBe('Authorization Server policy requires PKCE to be used for this request');
    expect(params.get('code')).toBeNull();
  });

  test('code_challenge_method=plain → invalid_request back at the client', async () => {
    const res = await get(authUrl(env, { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }));
    const params = expectBackAtClient(res);
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toBe('not supported value of code_challenge_method');
  });

  test('code_challenge without code_challenge_method (implicit plain) → invalid_request', async () => {
    const res = await get(authUrl(env, { code_challenge_method: undefined }));
    const params = expectBackAtClient(res);
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toBe('code_challenge_method must be provided');
  });

  test('wrong code_verifier → 400 invalid_grant, no tokens', async () => {
    const { code } = await freshCode(env);
    const res = await redeem(env, code, oidc.randomPKCECodeVerifier());
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body.access_token).toBeUndefined();
  });

  test('no code_verifier at all → 400 invalid_grant', async () => {
    const { code } = await freshCode(env);
    const res = await tokenRequest(env, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  test('code_verifier of 42 characters (too short) → 400 invalid_request', async () => {
    const { code, verifier } = await freshCode(env);
    const res = await redeem(env, code, verifier.slice(0, 42));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'code_verifier must be a string with a minimum length of 43 characters' });
  });

  test('code_verifier of 129 characters (too long) → 400 invalid_request', async () => {
    const { code, verifier } = await freshCode(env);
    const res = await redeem(env, code, verifier.padEnd(129, 'A'));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'code_verifier must be a string with a maximum length of 128 characters' });
  });

  test('the plain challenge itself used as the verifier (downgrade) → 400 invalid_grant', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    const { code } = await freshCode(env, { code_challenge: challenge });
    const res = await redeem(env, code, challenge);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });
});

describe('parameters given twice', () => {
  test('two scope parameters at /auth → invalid_request "parameters must not be provided twice" back at the client', async () => {
    const url = authUrl(env);
    url.searchParams.append('scope', 'openid profile');
    const params = expectBackAtClient(await get(url));
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toBe("'scope' parameter must not be provided twice");
  });

  test('two redirect_uri parameters at /auth → 400 error page, no redirect to either', async () => {
    const url = authUrl(env);
    url.searchParams.append('redirect_uri', 'https://evil.example/cb');
    const html = await expectErrorPage(await get(url), 400, 'invalid_request');
    expect(html).toContain('must not be provided twice');
  });

  test('two code parameters at /token → 400 invalid_request "parameter must not be provided twice"', async () => {
    const { code, verifier } = await freshCode(env);
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier });
    body.append('code', 'attacker-code');
    const res = await tokenRequest(env, body.toString());
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: "'code' parameter must not be provided twice" });
  });

  test('two grant_type parameters at /token → 400 invalid_request', async () => {
    const res = await tokenRequest(env, 'grant_type=client_credentials&grant_type=password');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: "'grant_type' parameter must not be provided twice" });
  });
});
