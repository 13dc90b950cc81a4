/**
 * Two real idport processes (`node dist/main.js`) on one SQLite file (WAL), behaving as one
 * provider: the same code paths a many-node MongoDB deployment uses. Both are started at the same
 * moment on an empty store (race-safe migration and key bootstrap); a login started on one
 * finishes on the other; tokens issued by one are introspected, refreshed and revoked on the
 * other; `idport keys rotate` reaches both; brute-force counters are shared.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';

import { cliJson, configOn, expectCleanStop, freePort, getJson, servingUrl, startNode, type IdportNode, type NodeSetup } from '../helpers/nodes.js';
import { killAll, stackLines, waitFor } from '../helpers/process.js';
import { csrfFrom, UserAgent } from '../helpers/user-agent.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-two-nodes-'));
const dbFile = join(dir, 'idport.db');
const databaseUrl = `sqlite:${dbFile}`;
const configFile = join(dir, 'config.json');

afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** The nodes' shared store and config (KEY_REFRESH_SECONDS=1: a rotation reaches both within a second). */
let setup: NodeSetup;
type Node = IdportNode;
const cli = (args: string[]) => cliJson(setup, args);

const jwksOf = (n: Node) => getJson<JSONWebKeySet>(`${n.origin}/jwks`);
const kidsOf = (set: JSONWebKeySet) => set.keys.map((k) => k.kid!);

// ---------------------------------------------------------------------------------------------

let portA: number;
let portB: number;
let issuer: string;
let a: Node;
let b: Node;
let client: { client_id: string; client_secret: string; redirect_uris: string[] };
let meta: Record<string, unknown>;
/** openid-client configuration per node: the issuer's metadata with the endpoints on that node */
const configs = new Map<Node, oidc.Configuration>();

const alice = { username: 'alice', password: 'correct horse battery staple', email: 'alice@example.com' };
const bob = { username: 'bob', password: 'bob has a long passphrase', email: 'bob@example.com' };
const redirectUri = 'http://127.0.0.1:8080/callback';

const configFor = (n: Node) => configOn(n.origin, meta, client);

const at = (n: Node) => configs.get(n)!;

/** One step of a browser's journey: which node served what. */
interface Visit {
  node: string;
  method: string;
  path: string;
  status: number;
  /** the Location header it answered with, if a redirect */
  location?: string;
  page?: 'login' | 'consent';
}

/**
 * Drives the authorization code flow through the real pages with a cookie jar, sending every
 * request to the node `route` picks (as a load balancer would), until the browser is sent to the
 * client's redirect_uri. Returns that callback URL and the journey.
 */
async function login(
  startOn: Node,
  route: (url: URL) => Node,
  options: { scope?: string; prompt?: string; ua?: UserAgent; user?: { username: string; password: string } } = {},
) {
  const ua = options.ua ?? new UserAgent();
  const user = options.user ?? alice;
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authUrl = oidc.buildAuthorizationUrl(at(startOn), {
    redirect_uri: redirectUri,
    scope: options.scope ?? 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(options.prompt ? { prompt: options.prompt } : {}),
  });
  const nodeOf = (url: URL) => [a, b].find((n) => n.origin === url.origin)!;
  const visits: Visit[] = [];
  let url = authUrl;
  let res = await ua.request(url);
  visits.push({ node: startOn.name, method: 'GET', path: url.pathname, status: res.status });
  for (let steps = 0; steps < 16; steps += 1) {
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer();
      visits[visits.length - 1]!.location = location;
      const next = new URL(location, url);
      if (next.href.startsWith(redirectUri)) return { callback: next, verifier, state, nonce, ua, visits };
      // The node answers as the issuer: every absolute URL it sends the browser to is on the issuer's origin.
      if (URL.canParse(location)) expect(next.origin).toBe(issuer);
      const target = route(next);
      url = new URL(target.origin + next.pathname + next.search);
      res = await ua.request(url);
      visits.push({ node: target.name, method: 'GET', path: url.pathname, status: res.status });
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`unexpected ${res.status} from node ${nodeOf(url).name} ${url.pathname}: ${html.slice(0, 300)}`);
    const page = html.includes('name="password"') ? 'login' : 'consent';
    visits[visits.length - 1]!.page = page;
    const form: Record<string, string> = page === 'login' ? { csrf: csrfFrom(html), login: user.username, password: user.password } : { csrf: csrfFrom(html) };
    const post = new URL(`${url.origin}${url.pathname}/${page}`);
    res = await ua.postForm(post, form);
    visits.push({ node: nodeOf(post).name, method: 'POST', path: post.pathname, status: res.status });
    url = post;
  }
  throw new Error(`the flow did not return to the client: ${JSON.stringify(visits)}`);
}

async function redeem(on: Node, flow: Awaited<ReturnType<typeof login>>) {
  return oidc.authorizationCodeGrant(at(on), flow.callback, {
    pkceCodeVerifier: flow.verifier,
    expectedState: flow.state,
    expectedNonce: flow.nonce,
    idTokenExpected: true,
  });
}

/** Verifies an ID token against a node's published /jwks (fetched now, not cached). */
async function verifyIdToken(idToken: string, against: Node) {
  const keys = createLocalJWKSet(await jwksOf(against));
  return jwtVerify(idToken, keys, { issuer, audience: client.client_id });
}

const introspect = (on: Node, token: string) => oidc.tokenIntrospection(at(on), token);

/** Error-level JSON log lines a node printed (LOG_LEVEL=warn). */
const errorLogs = (n: Node) =>
  n
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .filter((l) => {
      try {
        return (JSON.parse(l) as { level?: number }).level! >= 50;
      } catch {
        return false;
      }
    });


// ---------------------------------------------------------------------------------------------

describe('two idport nodes on one store', () => {
  let tokensA: Awaited<ReturnType<typeof redeem>>;
  let oldRsKid: string;

  beforeAll(async () => {
    [portA, portB] = await Promise.all([freePort(), freePort()]);
    if (portA === portB) portB = await freePort();
    issuer = `http://127.0.0.1:${portA}`;
    writeFileSync(configFile, JSON.stringify({ bruteForce: { freeFailures: 2 } }));
  });

  test('both start at the same moment on an empty store and publish the same single pair of keys', async () => {
    expect(existsSync(dbFile)).toBe(false);
    setup = { issuer, databaseUrl, configFile, env: { KEY_REFRESH_SECONDS: '1' } };
    a = startNode('A', portA, setup);
    b = startNode('B', portB, setup);
    const [urlA, urlB] = await Promise.all([servingUrl(a), servingUrl(b)]);
    // Both answer as the one issuer, whatever port they listen on.
    expect(urlA).toBe(issuer);
    expect(urlB).toBe(issuer);
    expect(stackLines(a.stderr() + b.stderr())).toEqual([]);

    const [discoA, discoB] = await Promise.all([
      getJson(`${a.origin}/.well-known/openid-configuration`),
      getJson(`${b.origin}/.well-known/openid-configuration`),
    ]);
    expect(discoA.issuer).toBe(issuer);
    expect(discoB).toEqual(discoA);
    meta = discoA;

    const [jwksA, jwksB] = await Promise.all([jwksOf(a), jwksOf(b)]);
    expect(jwksB).toEqual(jwksA);
    expect(jwksA.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const k of jwksA.keys) expect(k).not.toHaveProperty('d');
    oldRsKid = jwksA.keys.find((k) => k.alg === 'RS256')!.kid!;

    for (const n of [a, b]) {
      const ready = await fetch(`${n.origin}/readyz`);
      expect(ready.status).toBe(200);
      await ready.text();
    }
  });

  test('users and a client added through the CLI while both run are seen by both', async () => {
    const [addedAlice, addedBob, added] = await Promise.all([
      cli(['users', 'add', '--username', alice.username, '--password', alice.password, '--email', alice.email, '--email-verified']),
      cli(['users', 'add', '--username', bob.username, '--password', bob.password, '--email', bob.email]),
      cli(['clients', 'add', '--name', 'Two nodes app', '--redirect-uri', redirectUri]),
    ]);
    expect(addedAlice).toMatchObject({ username: 'alice' });
    expect(addedBob).toMatchObject({ username: 'bob' });
    expect(typeof added.client_id).toBe('string');
    expect(typeof added.client_secret).toBe('string');
    client = added as typeof client;
    configs.set(a, configFor(a));
    configs.set(b, configFor(b));

    // both nodes authenticate the new client at once (an unknown client would be invalid_client)
    for (const n of [a, b]) {
      const r = await introspect(n, 'not-a-token');
      expect(r.active).toBe(false);
    }
  });

  test('a login started on A finishes on B; the code is redeemed at B', async () => {
    const flow = await login(a, (next) => (next.pathname.startsWith('/interaction/') ? b : a), { scope: 'openid email offline_access', prompt: 'consent' });

    // login and consent pages were rendered by B, the forms posted to B, the resumes served by A
    const pages = flow.visits.filter((v) => v.page);
    expect(pages.map((v) => [v.node, v.page])).toEqual([
      ['B', 'login'],
      ['B', 'consent'],
    ]);
    const posts = flow.visits.filter((v) => v.method === 'POST');
    expect(posts.map((v) => [v.node, v.path.replace(/^\/interaction\/[^/]+/, '/interaction/:uid'), v.status])).toEqual([
      ['B', '/interaction/:uid/login', 303],
      ['B', '/interaction/:uid/consent', 303],
    ]);
    // B sends the browser back to the issuer (A's origin) to resume: /auth/<uid>
    for (const p of posts) expect(p.location).toMatch(new RegExp(`^${issuer.replace(/[.]/g, '\\.')}/auth/[^/?]+$`));
    const resumes = flow.visits.filter((v) => v.path.startsWith('/auth/'));
    expect(resumes.length).toBeGreaterThanOrEqual(2);
    expect(resumes.every((v) => v.node === 'A')).toBe(true);
    expect(flow.callback.searchParams.get('code')).toBeTruthy();
    expect(flow.callback.searchParams.get('iss')).toBe(issuer);

    const tokens = await redeem(b, flow);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(issuer);
    // userinfo on A answers for B's access token
    expect(await oidc.fetchUserInfo(at(a), tokens.access_token, claims.sub)).toMatchObject({ sub: claims.sub, email: alice.email, email_verified: true });
    // the ID token B issued verifies against A's keys, and B's token is active on A
    await expect(verifyIdToken(tokens.id_token!, a)).resolves.toBeTruthy();
    expect(await introspect(a, tokens.access_token)).toMatchObject({ active: true, client_id: client.client_id, sub: claims.sub });

    // the code was consumed in the shared store: replaying it at A fails
    await expect(redeem(a, flow)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('a token issued by A is introspected and refreshed on B, revoked on A, then inactive on B', async () => {
    tokensA = await redeem(a, await login(a, () => a, { scope: 'openid email offline_access', prompt: 'consent' }));
    const sub = tokensA.claims()!.sub;
    expect(decodeProtectedHeader(tokensA.id_token!).kid).toBe(oldRsKid);

    // The ID token from A verifies with jose against B's /jwks.
    const verified = await verifyIdToken(tokensA.id_token!, b);
    expect(verified.payload.sub).toBe(sub);

    expect(await introspect(b, tokensA.access_token)).toMatchObject({ active: true, client_id: client.client_id, sub, iss: issuer });
    expect(await introspect(b, tokensA.refresh_token!)).toMatchObject({ active: true, client_id: client.client_id, sub });

    const refreshed = await oidc.refreshTokenGrant(at(b), tokensA.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokensA.access_token);
    expect(refreshed.claims()?.sub).toBe(sub);
    const refreshToken = refreshed.refresh_token ?? tokensA.refresh_token!;
    expect(await introspect(a, refreshed.access_token)).toMatchObject({ active: true, sub });

    // Revoking on A revokes the grant (RFC 7009 §2.1): every token of it is dead on B too.
    await oidc.tokenRevocation(at(a), tokensA.access_token, { token_type_hint: 'access_token' });
    expect(await introspect(b, tokensA.access_token)).toEqual({ active: false });
    expect(await introspect(b, refreshToken)).toEqual({ active: false });
    expect(await introspect(b, refreshed.access_token)).toEqual({ active: false });
    await expect(oidc.refreshTokenGrant(at(b), refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('keys rotate (CLI) reaches both nodes within ~3 s; new logins sign with the new key, old tokens still verify', async () => {
    const before = await jwksOf(a);
    const rotated = await cli(['keys', 'rotate']);
    const fresh = rotated.rotated as { kid: string; alg: string }[];
    expect(fresh.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    const freshKids = fresh.map((k) => k.kid);
    const rotatedAt = Date.now();

    const published = await waitFor('both nodes to publish the new keys', 3000, async () => {
      const sets = await Promise.all([jwksOf(a), jwksOf(b)]);
      return sets.every((s) => freshKids.every((kid) => kidsOf(s).includes(kid))) ? sets : undefined;
    });
    expect(Date.now() - rotatedAt).toBeLessThan(3000);
    for (const set of published) {
      // new and old: the old keys stay published so tokens they signed keep verifying
      expect(kidsOf(set).sort()).toEqual([...freshKids, ...kidsOf(before)].sort());
      for (const k of set.keys) expect(k).not.toHaveProperty('d');
    }
    expect(published[1]).toEqual(published[0]);

    // a new login entirely via B: its ID token is signed with the new RS256 key
    const flow = await login(b, () => b);
    expect(flow.visits.every((v) => v.node === 'B')).toBe(true);
    const tokens = await redeem(b, flow);
    const newRsKid = fresh.find((k) => k.alg === 'RS256')!.kid;
    expect(decodeProtectedHeader(tokens.id_token!).kid).toBe(newRsKid);
    await expect(verifyIdToken(tokens.id_token!, a)).resolves.toBeTruthy();

    // the ID token A signed before the rotation still verifies against A's /jwks
    expect(decodeProtectedHeader(tokensA.id_token!).kid).toBe(oldRsKid);
    await expect(verifyIdToken(tokensA.id_token!, a)).resolves.toBeTruthy();
    await expect(verifyIdToken(tokensA.id_token!, b)).resolves.toBeTruthy();
  });

  test('brute-force counters are shared: failures on A lock the username on B', async () => {
    // freeFailures: 2 (IDPORT_CONFIG). Open one interaction per node, both on the login page.
    const pageOn = async (n: Node) => {
      const ua = new UserAgent();
      const authUrl = oidc.buildAuthorizationUrl(at(n), {
        redirect_uri: redirectUri,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const res = await ua.request(authUrl);
      await res.arrayBuffer();
      expect(res.status).toBe(303);
      const url = new URL(n.origin + new URL(res.headers.get('location')!, issuer).pathname);
      const page = await ua.request(url);
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain('name="password"');
      return { ua, url, csrf: csrfFrom(html) };
    };
    const attempt = async (p: Awaited<ReturnType<typeof pageOn>>, password: string) => {
      const res = await p.ua.postForm(`${p.url.href}/login`, { csrf: p.csrf, login: bob.username, password });
      await res.text();
      return { status: res.status, retryAfter: res.headers.get('retry-after'), location: res.headers.get('location') };
    };

    const onA = await pageOn(a);
    const onB = await pageOn(b);
    expect(await attempt(onA, 'wrong password 1')).toMatchObject({ status: 200, retryAfter: null });
    expect(await attempt(onA, 'wrong password 2')).toMatchObject({ status: 200, retryAfter: null });
    // the next attempt, on B and even with the right password, is refused
    const locked = await attempt(onB, bob.password);
    expect(locked.status).toBe(429);
    expect(locked.location).toBeNull();
    expect(Number(locked.retryAfter)).toBeGreaterThan(0);
    expect((await attempt(onA, bob.password)).status).toBe(429);
  });

  test('SIGTERM: both nodes exit 0', async () => {
    await expectCleanStop([a, b]);
    expect([...errorLogs(a), ...errorLogs(b)]).toEqual([]);
  });
});
