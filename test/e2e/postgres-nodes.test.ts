/**
 * Two real idport processes on one PostgreSQL database behind a round-robin proxy (each request
 * to the next node, no stickiness): a Chromium sign-in whose requests alternate between the
 * nodes; the code redeemed on one node, the tokens introspected, refreshed and revoked on the
 * other; a client added with the CLI usable on both at once; `idport keys rotate` published by
 * both within keys.refreshSeconds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as oidc from 'openid-client';
import type { JSONWebKeySet } from 'jose';
import type { Browser } from 'playwright-core';

import { launchChromium, startRelyingPartySite, type RelyingPartySite } from '../helpers/browser.js';
import { cliJson, configOn, expectCleanStop, freePort, getJson, servingUrl, startNode, type IdportNode, type NodeSetup } from '../helpers/nodes.js';
import { usePostgres } from '../helpers/postgres.js';
import { killAll, waitFor } from '../helpers/process.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';

const server = usePostgres('PostgreSQL nodes behind a load balancer (e2e)');

if (server) {
  const dir = mkdtempSync(join(tmpdir(), 'idport-pg-nodes-'));
  const alice = { username: 'alice', password: 'correct horse battery staple', email: 'alice@example.com' };
  /** keys.refreshSeconds: the documented bound for a rotation to reach every node */
  const keyRefreshSeconds = 1;
  let setup: NodeSetup;
  let proxy: RoundRobinProxy;
  let site: RelyingPartySite;
  let browser: Browser | undefined;
  let a: IdportNode;
  let b: IdportNode;
  let meta: Record<string, unknown>;
  let client: { client_id: string; client_secret: string };

  const at = (n: IdportNode, c = client) => configOn(n.origin, meta, c);
  const jwksOf = (n: IdportNode) => getJson<JSONWebKeySet>(`${n.origin}/jwks`);
  const kidsOf = (set: JSONWebKeySet) => set.keys.map((k) => k.kid!).sort();

  beforeAll(async () => {
    // Chromium first: a missing browser fails with its install hint.
    [browser, proxy, site] = await Promise.all([launchChromium(), startRoundRobinProxy(), startRelyingPartySite()]);
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ postgres: { maxPoolSize: 4 } }));
    setup = { issuer: proxy.origin, databaseUrl: await server.database(), configFile, env: { KEY_REFRESH_SECONDS: String(keyRefreshSeconds) } };
    const portA = await freePort();
    let portB = await freePort();
    while (portB === portA) portB = await freePort();
    // both at the same moment on the empty database (migrations and key bootstrap race)
    a = startNode('A', portA, setup);
    b = startNode('B', portB, setup);
    await Promise.all([servingUrl(a), servingUrl(b)]);
    proxy.setTargets([a, b]);
    meta = await getJson(`${proxy.origin}/.well-known/openid-configuration`);
    await cliJson(setup, ['users', 'add', '--username', alice.username, '--password', alice.password, '--email', alice.email, '--email-verified']);
    client = (await cliJson(setup, ['clients', 'add', '--name', 'Balanced app', '--redirect-uri', site.callback])) as typeof client;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await site?.close();
    killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('two idport nodes on one PostgreSQL database', () => {
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    /** redeems the code again, on B (last: a replayed code revokes its grant) */
    let replay: () => Promise<unknown>;

    test('both answer as the one issuer and publish the same keys', async () => {
      expect(meta.issuer).toBe(proxy.origin);
      const [jwksA, jwksB] = await Promise.all([jwksOf(a), jwksOf(b)]);
      expect(jwksB).toEqual(jwksA);
      expect(jwksA.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    });

    test('a Chromium sign-in through the round-robin proxy: both nodes serve the interaction; the code is redeemed on A', async () => {
      const context = await browser!.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      // page.route misses requests reached through a redirect; the request event sees them all.
      const callbacks: URL[] = [];
      page.on('request', (req) => {
        if (req.url().startsWith(site.callback)) callbacks.push(new URL(req.url()));
      });
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const authUrl = oidc.buildAuthorizationUrl(at(a), {
        redirect_uri: site.callback,
        scope: 'openid email offline_access',
        prompt: 'consent',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      // the browser starts at the issuer (the proxy), not at a node
      const start = new URL(authUrl.pathname + authUrl.search, proxy.origin);
      const firstRequest = proxy.log.length;
      await page.goto(start.href);
      await page.getByLabel('Username or email').fill(alice.username);
      await page.getByLabel('Password').fill(alice.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      await page.getByRole('button', { name: 'Allow' }).click();
      const callback = await waitFor('the code at the redirect URI', 10_000, () => callbacks[0]);
      await context.close();

      const journey = proxy.log.slice(firstRequest);
      expect(journey.filter((r) => r.status >= 500)).toEqual([]);
      const served = (name: string, prefix: string) => journey.filter((r) => r.node === name && r.url.startsWith(prefix)).length;
      // strict turns: neither node served more than one request more than the other …
      expect(Math.abs(served('A', '/') - served('B', '/'))).toBeLessThanOrEqual(1);
      // … and both served interaction requests (pages and form posts) of this one sign-in
      expect(served('A', '/interaction/')).toBeGreaterThan(0);
      expect(served('B', '/interaction/')).toBeGreaterThan(0);

      expect(callback.searchParams.get('iss')).toBe(proxy.origin);
      tokens = await oidc.authorizationCodeGrant(at(a), callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
      expect(tokens.refresh_token).toBeTruthy();
      expect(tokens.claims()!.iss).toBe(proxy.origin);
      replay = () => oidc.authorizationCodeGrant(at(b), callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    }, 30_000);

    test("A's tokens are introspected and refreshed on B, revoked on A, then dead on B; the code replayed on B is refused", async () => {
      const sub = tokens.claims()!.sub;
      expect(await oidc.tokenIntrospection(at(b), tokens.access_token)).toMatchObject({ active: true, client_id: client.client_id, sub });
      expect(await oidc.tokenIntrospection(at(b), tokens.refresh_token!)).toMatchObject({ active: true, sub });
      const refreshed = await oidc.refreshTokenGrant(at(b), tokens.refresh_token!);
      expect(refreshed.access_token).not.toBe(tokens.access_token);
      const refreshToken = refreshed.refresh_token ?? tokens.refresh_token!;
      expect(await oidc.tokenIntrospection(at(a), refreshed.access_token)).toMatchObject({ active: true, sub });

      await oidc.tokenRevocation(at(a), tokens.access_token, { token_type_hint: 'access_token' });
      for (const token of [tokens.access_token, refreshed.access_token, refreshToken]) {
        expect(await oidc.tokenIntrospection(at(b), token)).toEqual({ active: false });
      }
      await expect(oidc.refreshTokenGrant(at(b), refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
      // the code was consumed in the shared database: B refuses it
      await expect(replay()).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    test('a client added with the CLI while both run gets client_credentials tokens from both at once', async () => {
      const machine = (await cliJson(setup, ['clients', 'add', '--name', 'Batch job', '--grant-type', 'client_credentials'])) as typeof client;
      // no wait, no restart: each node reads the new client from the database
      const [onA, onB] = await Promise.all([oidc.clientCredentialsGrant(at(a, machine)), oidc.clientCredentialsGrant(at(b, machine))]);
      expect(onA.access_token).toBeTruthy();
      expect(onB.access_token).toBeTruthy();
      expect(await oidc.tokenIntrospection(at(a, machine), onB.access_token)).toMatchObject({ active: true, client_id: machine.client_id });
      expect(await oidc.tokenIntrospection(at(b, machine), onA.access_token)).toMatchObject({ active: true, client_id: machine.client_id });
    });

    test(`keys rotate (CLI) is published by both nodes within keys.refreshSeconds (${keyRefreshSeconds} s) plus a margin`, async () => {
      const before = await jwksOf(a);
      const rotated = (await cliJson(setup, ['keys', 'rotate'])).rotated as { kid: string; alg: string }[];
      const fresh = rotated.map((k) => k.kid);
      const rotatedAt = Date.now();
      const published = await waitFor('both nodes to publish the new keys', keyRefreshSeconds * 1000 + 2000, async () => {
        const sets = await Promise.all([jwksOf(a), jwksOf(b)]);
        return sets.every((s) => fresh.every((kid) => kidsOf(s).includes(kid))) ? sets : undefined;
      });
      expect(Date.now() - rotatedAt).toBeLessThan(keyRefreshSeconds * 1000 + 2000);
      // new and old: tokens the old keys signed keep verifying
      for (const set of published) expect(kidsOf(set)).toEqual([...fresh, ...kidsOf(before)].sort());
      expect(published[1]).toEqual(published[0]);
    });

    test('SIGTERM: both exit 0, no stack traces', async () => {
      await expectCleanStop([a, b]);
    });
  });
}
