/**
 * The scenarios. An HTTP scenario prepares what its requests need on a running server (tokens
 * obtained through the real endpoints), checks one response for meaning (not just the status),
 * and describes the request autocannon repeats. The code-flow scenario is driven by virtual users.
 */
/* global fetch, AbortSignal */
import { codeFlow } from './flow.mjs';
import { basicAuth, jwtResource, jwtScope, machineClient, webClient } from './fixtures.mjs';

const form = 'application/x-www-form-urlencoded';

async function call(url, path, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(new URL(path, url), { method, headers, body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status !== 200) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return json;
}

const clientCredentials = (url, extra = '') =>
  call(url, '/token', {
    method: 'POST',
    headers: { authorization: basicAuth(machineClient), 'content-type': form },
    body: `grant_type=client_credentials${extra}`,
  });

const assert = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
};

const isJwt = (s) => typeof s === 'string' && s.split('.').length === 3;

/**
 * @typedef {{ method: string, path: string, headers?: Record<string,string>, bodies?: string[], expectBody?: string }} RequestSpec
 * expectBody: the exact body every response must have (a different one counts as a failed request)
 */

export const scenarios = [
  {
    id: 'discovery',
    name: 'discovery GET /.well-known/openid-configuration',
    async prepare(url) {
      const doc = await call(url, '/.well-known/openid-configuration');
      assert(doc.issuer === url && doc.jwks_uri, 'discovery names the issuer and jwks_uri');
      return { method: 'GET', path: '/.well-known/openid-configuration' };
    },
  },
  {
    id: 'jwks',
    name: 'JWKS GET /jwks',
    async prepare(url) {
      const jwks = await call(url, '/jwks');
      assert(jwks.keys?.some((k) => k.alg === 'RS256') && jwks.keys.every((k) => !k.d), 'public RS256 key, no private parts');
      return { method: 'GET', path: '/jwks' };
    },
  },
  {
    id: 'cc-opaque',
    name: 'client_credentials, opaque token (POST /token)',
    async prepare(url) {
      const t = await clientCredentials(url);
      assert(t.access_token && !isJwt(t.access_token) && t.token_type === 'Bearer', 'opaque bearer token');
      return {
        method: 'POST',
        path: '/token',
        headers: { authorization: basicAuth(machineClient), 'content-type': form },
        bodies: ['grant_type=client_credentials'],
      };
    },
  },
  {
    id: 'cc-jwt',
    name: 'client_credentials, JWT access token (POST /token)',
    // RFC 9068 JWTs signed ES256, for an API registered as `idport apis add --audience urn:bench:api
    // --scope api:read` (token format jwt). An idport without registered APIs gets a n/a row.
    requires: { feature: 'jwtAccessTokens', otherwise: 'n/a (JWT access tokens not configurable yet)' },
    env: { baseline: { BENCH_JWT_AT: '1' } },
    async prepare(url) {
      const extra = `&resource=${encodeURIComponent(jwtResource)}&scope=${encodeURIComponent(jwtScope)}`;
      const t = await clientCredentials(url, extra);
      assert(isJwt(t.access_token), 'the access token is a JWT');
      const header = JSON.parse(Buffer.from(t.access_token.split('.')[0], 'base64url').toString());
      const claims = JSON.parse(Buffer.from(t.access_token.split('.')[1], 'base64url').toString());
      assert(header.alg === 'ES256' && header.typ === 'at+jwt' && claims.aud === jwtResource && claims.scope === jwtScope, 'an ES256 at+jwt for the API');
      return {
        method: 'POST',
        path: '/token',
        headers: { authorization: basicAuth(machineClient), 'content-type': form },
        bodies: [`grant_type=client_credentials${extra}`],
      };
    },
  },
  {
    id: 'introspection',
    name: 'introspection of an opaque token (POST /token/introspection)',
    async prepare(url) {
      const { access_token: token } = await clientCredentials(url);
      const headers = { authorization: basicAuth(machineClient), 'content-type': form };
      const body = `token=${encodeURIComponent(token)}`;
      const info = await call(url, '/token/introspection', { method: 'POST', headers, body });
      assert(info.active === true && info.client_id === machineClient.client_id, 'the token introspects as active');
      // Every answer under load must be this one (an inactive token would still be a 200).
      return { method: 'POST', path: '/token/introspection', headers, bodies: [body], expectBody: JSON.stringify(info) };
    },
  },
  {
    id: 'refresh',
    name: 'refresh_token grant, confidential client (POST /token)',
    async prepare(url) {
      // A small pool of refresh tokens, each from a real sign-in. A confidential client's refresh
      // token is not rotated until 70% of its lifetime has passed (idport's rotateRefreshToken,
      // same as oidc-provider's default), so each one can be redeemed again and again.
      const pool = [];
      for (let i = 0; i < 4; i += 1) {
        const t = await codeFlow(url, { scope: 'openid offline_access', prompt: 'consent' });
        assert(t.refresh_token, 'offline_access + prompt=consent yields a refresh token');
        pool.push(t.refresh_token);
      }
      const headers = { authorization: basicAuth(webClient), 'content-type': form };
      const bodies = pool.map((rt) => `grant_type=refresh_token&refresh_token=${encodeURIComponent(rt)}`);
      const t = await call(url, '/token', { method: 'POST', headers, body: bodies[0] });
      assert(t.access_token && isJwt(t.id_token), 'refresh yields an access token and an ID token');
      assert(t.refresh_token === pool[0], 'the refresh token was not rotated');
      return { method: 'POST', path: '/token', headers, bodies };
    },
  },
  {
    id: 'userinfo',
    name: 'userinfo GET /me (bearer)',
    async prepare(url) {
      const t = await codeFlow(url, { scope: 'openid profile email' });
      const headers = { authorization: `Bearer ${t.access_token}` };
      const info = await call(url, '/me', { headers });
      assert(info.sub && info.email && info.name, 'userinfo returns sub, email and name');
      return { method: 'GET', path: '/me', headers, expectBody: JSON.stringify(info) };
    },
  },
  {
    id: 'code-flow',
    name: 'authorization code flow: authorize → login → consent → token',
    flow: true,
    async prepare(url) {
      await codeFlow(url);
      return {};
    },
  },
];
