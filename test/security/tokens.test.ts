/**
 * Attacks at the token, introspection, revocation and userinfo endpoints: code replay and races,
 * refresh token reuse and theft, client authentication, cross-client token use, code lifetime.
 */
import { loadConfig } from '../../src/config/load.js';
import {
  addClient,
  afterEachHealthy,
  CALLBACK,
  freshCode,
  isActive,
  postJson,
  redeem,
  setup,
  tokenRequest,
  type Client,
  type Env,
} from './helpers.js';

let env: Env;
let expiring: Env | undefined;

beforeAll(async () => {
  env = await setup();
});
afterAll(async () => {
  await env.server.stop();
  await expiring?.server.stop();
});
afterEachHealthy(() => [env?.server, expiring?.server]);

const offline = { scope: 'openid offline_access', prompt: 'consent' };

describe('authorization codes', () => {
  test('code replay → 400 invalid_grant, and the access and refresh tokens it issued are revoked', async () => {
    const { code, verifier } = await freshCode(env, offline);
    const first = await redeem(env, code, verifier);
    expect(first.status).toBe(200);
    const access = first.body.access_token as string;
    const refresh = first.body.refresh_token as string;
    expect(refresh).toEqual(expect.any(String));
    expect(await isActive(env, access)).toBe(true);

    const replay = await redeem(env, code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(replay.body.access_token).toBeUndefined();
    expect(await isActive(env, access)).toBe(false);
    expect(await isActive(env, refresh)).toBe(false);
    const refreshed = await tokenRequest(env, { grant_type: 'refresh_token', refresh_token: refresh });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  test('20 parallel redemptions of one code → exactly one 200, nineteen 400 invalid_grant', async () => {
    const { code, verifier } = await freshCode(env);
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(env, code, verifier)));
    const won = results.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    const lost = results.filter((r) => r.status !== 200);
    expect(lost.map((r) => [r.status, r.body.error])).toEqual(Array.from({ length: 19 }, () => [400, 'invalid_grant']));
  });

  test("a code redeemed by another client (with that client's valid secret) → 400 invalid_grant", async () => {
    const { code, verifier } = await freshCode(env);
    const thief = await addClient(env.server.store);
    const res = await redeem(env, code, verifier, thief as Client);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body.access_token).toBeUndefined();
  });

  test('a code redeemed with a different (registered) redirect_uri → 400 invalid_grant', async () => {
    const { code, verifier } = await freshCode(env);
    const res = await tokenRequest(env, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example.com/cb' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'grant request is invalid' });
  });

  test('the authorization code lifetime is 60 s by default, and that is what the provider stores', async () => {
    expect(loadConfig({}, {}).ttl.authorizationCode).toBe(60);
    const { code } = await freshCode(env);
    const stored = await env.server.store.model('AuthorizationCode').find(code);
    expect(stored).toBeDefined();
    expect((stored!.exp as number) - (stored!.iat as number)).toBe(60);
  });

  test('a code used after it expired (ttl.authorizationCode = 1, wait 2 s) → 400 invalid_grant', async () => {
    expiring = await setup({ ttl: { authorizationCode: 1 } });
    const { code, verifier } = await freshCode(expiring);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const res = await redeem(expiring, code, verifier);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(res.body.access_token).toBeUndefined();
  });
});

describe('refresh tokens', () => {
  test('public client: reusing a rotated refresh token → invalid_grant and the whole grant is revoked', async () => {
    const pub = (await addClient(env.server.store, { token_endpoint_auth_method: 'none', client_secret: undefined })) as Client;
    const { code, verifier } = await freshCode(env, offline, pub);
    const issued = await redeem(env, code, verifier, pub);
    expect(issued.status).toBe(200);
    const refresh = (rt: string) => tokenRequest(env, { grant_type: 'refresh_token', refresh_token: rt, client_id: pub.client_id }, null);

    const rotated = await refresh(issued.body.refresh_token as string);
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).not.toBe(issued.body.refresh_token);

    const reuse = await refresh(issued.body.refresh_token as string);
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    // the legitimate, newest refresh token and its access token died with the grant
    const newest = await refresh(rotated.body.refresh_token as string);
    expect(newest.status).toBe(400);
    expect(newest.body.error).toBe('invalid_grant');
    const me = await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${rotated.body.access_token as string}` } });
    expect(me.status).toBe(401);
    expect(((await me.json()) as { error: string }).error).toBe('invalid_token');
  });

  test("another client's refresh token → 400 invalid_grant, and it stays usable by its owner", async () => {
    const { code, verifier } = await freshCode(env, offline);
    const issued = await redeem(env, code, verifier);
    const rt = issued.body.refresh_token as string;
    const thief = await addClient(env.server.store);
    const stolen = await tokenRequest(env, { grant_type: 'refresh_token', refresh_token: rt }, { id: thief.client_id, secret: thief.client_secret });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
    expect(stolen.body.access_token).toBeUndefined();
    const owner = await tokenRequest(env, { grant_type: 'refresh_token', refresh_token: rt });
    expect(owner.status).toBe(200);
  });
});

describe('client authentication at /token', () => {
  test('wrong client secret → 401 invalid_client with WWW-Authenticate: Basic', async () => {
    const res = await tokenRequest(env, { grant_type: 'client_credentials' }, { id: env.client.client_id, secret: 'wrong-secret' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
  });

  test('no client authentication at all → 400 invalid_request "no client authentication mechanism provided"', async () => {
    const { code, verifier } = await freshCode(env);
    const res = await tokenRequest(env, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }, null);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'no client authentication mechanism provided' });
  });

  test('client_id only (no secret) for a confidential client → 401 invalid_client', async () => {
    const { code, verifier } = await freshCode(env);
    const res = await tokenRequest(
      env,
      { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier, client_id: env.client.client_id },
      null,
    );
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    // the code was not burnt by the failed attempt: the real client can still redeem it
    expect((await redeem(env, code, verifier)).status).toBe(200);
  });

  test('client_secret_post with a wrong secret for a client registered client_secret_basic → 401 invalid_client', async () => {
    const res = await tokenRequest(
      env,
      { grant_type: 'client_credentials', client_id: env.client.client_id, client_secret: 'wrong-secret' },
      null,
    );
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  test('client_secret_post with the right secret for a client registered client_secret_basic: oidc-provider treats basic and post as one method (accepted)', async () => {
    // oidc-provider 9 lib/shared/client_auth.js: a secret in the body or the header allows
    // methods ['client_secret_basic', 'client_secret_post'] alike. Same secret, same strength; noted in the report.
    const { code, verifier } = await freshCode(env);
    const res = await tokenRequest(
      env,
      { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier, client_id: env.client.client_id, client_secret: env.client.client_secret },
      null,
    );
    expect(res.status).toBe(200);
  });

  test('secret both in the header and the body → 400 invalid_request (one mechanism only)', async () => {
    const res = await tokenRequest(env, { grant_type: 'client_credentials', client_secret: env.client.client_secret });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'client authentication must only be provided using one mechanism' });
  });

  test('a public client presenting a made-up secret → 401 invalid_client', async () => {
    const pub = await addClient(env.server.store, { token_endpoint_auth_method: 'none', client_secret: undefined });
    const res = await tokenRequest(env, { grant_type: 'refresh_token', refresh_token: 'x' }, { id: pub.client_id, secret: 'made-up' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  test('the /token response is Cache-Control: no-store', async () => {
    const { code, verifier } = await freshCode(env);
    const res = await redeem(env, code, verifier);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('cross-client token use', () => {
  let victim: { access: string; refresh: string };
  let other: Awaited<ReturnType<typeof addClient>>;

  beforeAll(async () => {
    const { code, verifier } = await freshCode(env, offline);
    const issued = await redeem(env, code, verifier);
    victim = { access: issued.body.access_token as string, refresh: issued.body.refresh_token as string };
    other = await addClient(env.server.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  });

  test("introspecting another client's access token → 200 {active:false} and nothing else", async () => {
    const res = await postJson(env, '/token/introspection', { token: victim.access }, { id: other.client_id, secret: other.client_secret });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
    expect(await isActive(env, victim.access)).toBe(true);
  });

  test("introspecting another client's refresh token → {active:false}", async () => {
    const res = await postJson(env, '/token/introspection', { token: victim.refresh }, { id: other.client_id, secret: other.client_secret });
    expect(res.body).toEqual({ active: false });
  });

  test("revoking another client's access and refresh tokens → 200 as RFC 7009 wants (nothing revealed), and both stay active", async () => {
    for (const token of [victim.access, victim.refresh]) {
      const res = await postJson(env, '/token/revocation', { token }, { id: other.client_id, secret: other.client_secret });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ unparsed: '' });
    }
    expect(await isActive(env, victim.access)).toBe(true);
    expect(await isActive(env, victim.refresh)).toBe(true);
    // control: the owner's own revocation does take effect
    expect((await postJson(env, '/token/revocation', { token: victim.access })).status).toBe(200);
    expect(await isActive(env, victim.access)).toBe(false);
  });
});

describe('userinfo', () => {
  let access: string;
  beforeAll(async () => {
    const { code, verifier } = await freshCode(env);
    access = (await redeem(env, code, verifier)).body.access_token as string;
  });

  test('access token in the query string (/me?access_token=…) → 400 invalid_request, no claims', async () => {
    const res = await fetch(`${env.url}/me?access_token=${encodeURIComponent(access)}`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'access tokens must not be provided via query parameter' });
  });

  test('the same token in the Authorization header works (control)', async () => {
    const res = await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${access}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { sub: string }).sub).toEqual(expect.any(String));
  });

  // A token's grant and session are read with it, in one store lookup (held-lookups.ts): what
  // that lookup finds, and nothing older, decides.
  const me = (token: string) => fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${token}` } });
  const freshAccess = async () => {
    const { code, verifier } = await freshCode(env);
    const token = (await redeem(env, code, verifier)).body.access_token as string;
    const payload = (await env.server.store.model('AccessToken').find(token))!;
    expect(payload).toMatchObject({ grantId: expect.any(String), sessionUid: expect.any(String), expiresWithSession: true });
    return { token, grantId: payload.grantId!, sessionUid: payload.sessionUid as string };
  };
  /** refused at userinfo (401 invalid_token) and inactive at introspection */
  const expectRefused = async (token: string) => {
    const res = await me(token);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    expect(await isActive(env, token)).toBe(false);
  };

  test('a token whose session has ended → 401 invalid_token at userinfo, inactive at introspection', async () => {
    const { token, sessionUid } = await freshAccess();
    expect((await me(token)).status).toBe(200); // control: read once, with its session
    const session = (await env.server.store.model('Session').findByUid(sessionUid))!;
    await env.server.store.model('Session').destroy(session.jti as string);
    await expectRefused(token);
  });

  test('a token whose grant is gone (the token itself still stored) → 401 invalid_token at userinfo, inactive at introspection', async () => {
    const { token, grantId } = await freshAccess();
    expect((await me(token)).status).toBe(200);
    expect(await isActive(env, token)).toBe(true);
    await env.server.store.model('Grant').destroy(grantId);
    expect(await env.server.store.model('AccessToken').find(token)).toBeDefined();
    await expectRefused(token);
  });

  test("a request refused after reading its token leaves nothing for the next: the grant removed in between is missed by no one", async () => {
    const { token, grantId } = await freshAccess();
    // read with the token, then refused before its grant is looked up (a scope it was not granted)
    const refused = await fetch(`${env.url}/me?scope=${encodeURIComponent('openid phone')}`, { headers: { authorization: `Bearer ${token}` } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe('insufficient_scope');
    await env.server.store.model('Grant').destroy(grantId);
    await expectRefused(token);
  });

  test('many requests with one token at once, while its session ends: each answers 200 or 401, never an error, and all after the end are 401', async () => {
    const { token, sessionUid } = await freshAccess();
    const session = (await env.server.store.model('Session').findByUid(sessionUid))!;
    const during = await Promise.all([
      ...Array.from({ length: 20 }, () => me(token).then((r) => r.status)),
      env.server.store.model('Session').destroy(session.jti as string).then(() => 'ended'),
      ...Array.from({ length: 20 }, () => me(token).then((r) => r.status)),
    ]);
    expect(during.filter((s) => s !== 200 && s !== 401 && s !== 'ended')).toEqual([]);
    const after = await Promise.all(Array.from({ length: 10 }, () => me(token).then((r) => r.status)));
    expect(after).toEqual(Array(10).fill(401));
  });

  test('a forged access token → 401 invalid_token with WWW-Authenticate Bearer', async () => {
    const res = await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${'x'.repeat(43)}` } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*", error="invalid_token"/);
  });
});
