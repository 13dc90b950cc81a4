/**
 * Back-Channel Logout 1.0 end to end, over real HTTP: idport signs users in to clients whose
 * backchannel_logout_uri is a real HTTP server on 127.0.0.1 (test/helpers/logout-receiver.ts),
 * sessions end in every way idport ends them, and the receivers see what arrives.
 */
import { Writable } from 'node:stream';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { cli, killChildren } from '../helpers/cli.js';
import { addClient, addUser, alice, discover, loginAndRedeem } from '../helpers/flow.js';
import { startLogoutReceiver, type LogoutDelivery, type LogoutReceiver, type ReceiverBehaviour } from '../helpers/logout-receiver.js';
import { resetLink, startMailbox, type Mailbox } from '../helpers/mailbox.js';
import { firefoxOnWindows, NamedBrowser, openForgot, requestReset, signInToAccount, useResetLink } from '../helpers/self-service.js';
import { tempDir } from '../helpers/server.js';
import { UserAgent } from '../helpers/user-agent.js';

const event = 'http://schemas.openid.net/event/backchannel-logout';
const bob = { username: 'bob', password: 'a long passphrase for bob', email: 'bob@example.com', name: 'Bob' };
const carol = { username: 'carol', password: 'a long passphrase for carol', email: 'carol@example.com', name: 'Carol' };
const dave = { username: 'dave', password: 'a long passphrase for dave', email: 'dave@example.com', name: 'Dave' };
/** short so the retry tests are quick: 0.5 s per attempt, retries 50 ms, 100 ms, 200 ms … for 2 s */
const timing = { attemptTimeoutMs: 500, firstRetryMs: 50, retryForSeconds: 2 };

interface Started {
  server: RunningServer;
  databaseUrl: string;
  audits: (event: string) => Record<string, unknown>[];
  lines: Record<string, unknown>[];
}

/** idport with its log lines kept (audit events), /metrics on the public port and `overrides`. */
async function startIdport(overrides: Partial<ConfigInput> = {}): Promise<Started> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const databaseUrl = `sqlite:${tempDir()}/idport.db`;
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      databaseUrl,
      metrics: { onPublicPort: true },
      bruteForce: { loginsPerIpPerMinute: 10_000 },
      backchannelLogout: timing,
      ...overrides,
    },
  );
  const server = await startServer(config, { logger: pino({ level: 'info' }, sink) });
  return { server, databaseUrl, lines, audits: (name) => lines.filter((l) => l.kind === 'audit' && l.audit === name) };
}

let idp: Started;
let url: string;
let mailbox: Mailbox;
const receivers: LogoutReceiver[] = [];
let aliceId: string;
let bobId: string;

async function receiver(behaviour?: ReceiverBehaviour) {
  const r = await startLogoutReceiver(behaviour);
  receivers.push(r);
  return r;
}

/** A client of idport; with a receiver, its backchannel_logout_uri is the receiver's. */
async function client(name: string, r?: LogoutReceiver) {
  const metadata = await addClient(idp.server.store, { client_name: name, ...(r ? { backchannel_logout_uri: r.uri } : {}) });
  return { id: metadata.client_id, config: await discover(url, metadata.client_id, metadata.client_secret) };
}

type Client = Awaited<ReturnType<typeof client>>;

/** Signs `ua` in to `c` (through the login page the first time); the ID token's claims and the token. */
async function signIn(c: Client, ua: UserAgent, user = alice) {
  const { tokens } = await loginAndRedeem(c.config, url, { ua, user });
  return { claims: tokens.claims()!, idToken: tokens.id_token! };
}

/** RP-initiated logout from the client that got `idToken`: "Yes, sign me out"; how long the confirmation took. */
async function signOut(ua: UserAgent, idToken: string) {
  const start = new URL(`${url}/session/end`);
  start.searchParams.set('id_token_hint', idToken);
  start.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:8080/logged-out');
  const page = await ua.request(start);
  const html = await page.text();
  expect(page.status).toBe(200);
  const form = /<form id="op\.logoutForm" method="post" action="([^"]+)"><input type="hidden" name="xsrf" value="([^"]+)"/.exec(html)!;
  const began = performance.now();
  const res = await ua.postForm(form[1]!.replace(/&amp;/g, '&'), { xsrf: form[2]!, logout: 'yes' });
  const ms = performance.now() - began;
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('http://127.0.0.1:8080/logged-out');
  return { ms, at: Date.now() };
}

const jwks = () => createRemoteJWKSet(new URL(`${url}/jwks`));

/** Checks a delivery as Back-Channel Logout 1.0 §2.4–2.5 wants it; its claims. */
async function logoutToken(d: LogoutDelivery, clientId: string): Promise<JWTPayload & { sid?: string; events?: Record<string, unknown> }> {
  expect(d.method).toBe('POST');
  expect(d.contentType).toMatch(/^application\/x-www-form-urlencoded/);
  expect(d.fields).toEqual(['logout_token']);
  const header = decodeProtectedHeader(d.token!);
  expect(header).toMatchObject({ typ: 'logout+jwt', alg: 'RS256' });
  expect(header.kid).toBeTruthy();
  const { payload } = await jwtVerify(d.token!, jwks(), { issuer: url, audience: clientId, typ: 'logout+jwt', requiredClaims: ['iat', 'exp', 'jti'] });
  expect(payload.events).toEqual({ [event]: {} });
  expect(payload).not.toHaveProperty('nonce');
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
  expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(10);
  return payload as JWTPayload & { sid?: string };
}

/** The deliveries counter on /metrics, by outcome. */
async function deliveries(): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = { delivered: 0, failed: 0, gave_up: 0 };
  for (const m of text.matchAll(/^idport_backchannel_logout_deliveries_total\{outcome="([a-z_]+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

/** Waits (polling, at most `ms`) until `check` holds. */
async function eventually<T>(check: () => T | undefined | false, ms = 6000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const finalOutcome = (clientId: string) => () => idp.audits('backchannel_logout').find((a) => a.client_id === clientId);

/** Nothing more arrives at these receivers for a while (deliveries are immediate when they happen). */
const quietFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  mailbox = await startMailbox();
  idp = await startIdport({ email: { smtpUrl: mailbox.url } });
  url = idp.server.url;
  aliceId = (await addUser(idp.server.store)).id;
  bobId = (await addUser(idp.server.store, bob)).id;
});

afterAll(async () => {
  killChildren();
  await idp.server.close();
  await mailbox.close();
  for (const r of receivers) await r.close();
});

test('discovery says back-channel logout is supported, with sid; /metrics counts deliveries', async () => {
  const meta = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  expect(meta.backchannel_logout_supported).toBe(true);
  expect(meta.backchannel_logout_session_supported).toBe(true);
  // and /metrics has every outcome's series from the start
  const text = await (await fetch(`${url}/metrics`)).text();
  for (const outcome of ['delivered', 'failed', 'gave_up']) expect(text).toContain(`idport_backchannel_logout_deliveries_total{outcome="${outcome}"} 0\n`);
});

test("RP-initiated logout: a logout token to each client of the session with that client's own sid, none to others, and the page never waits", async () => {
  const [rA, rB, rNever] = [await receiver(), await receiver(), await receiver()];
  const [a, b, noUri, never] = [await client('A', rA), await client('B', rB), await client('no URI'), await client('never used', rNever)];
  const before = await deliveries();
  const ua = new UserAgent();
  const inA = await signIn(a, ua);
  const inB = await signIn(b, ua);
  await signIn(noUri, ua);
  // The same user signed in to B in another browser: that session stays.
  const other = await signIn(b, new UserAgent());
  // Every client with a back-channel URI gets sid in its ID tokens; each client its own.
  expect(inA.claims.sid).toEqual(expect.any(String));
  expect(inB.claims.sid).toEqual(expect.any(String));
  expect(inA.claims.sid).not.toBe(inB.claims.sid);
  expect(other.claims.sid).not.toBe(inB.claims.sid);

  expect((await signOut(ua, inA.idToken)).ms).toBeLessThan(2000);
  const [toA] = await rA.waitFor(1);
  const [toB] = await rB.waitFor(1);
  await quietFor(300);
  expect([rA.deliveries.length, rB.deliveries.length, rNever.deliveries.length]).toEqual([1, 1, 0]);

  const claimsA = await logoutToken(toA!, a.id);
  const claimsB = await logoutToken(toB!, b.id);
  expect(claimsA).toMatchObject({ sub: aliceId, sid: inA.claims.sid });
  expect(claimsB).toMatchObject({ sub: aliceId, sid: inB.claims.sid });
  expect(claimsA.jti).not.toBe(claimsB.jti);
  // B's token is not valid for A (aud), and never names the other browser's session.
  await expect(jwtVerify(toB!.token!, jwks(), { audience: a.id })).rejects.toThrow(/aud/);
  expect(claimsB.sid).not.toBe(other.claims.sid);

  // Audited per client (outcome, never the token) and counted.
  await eventually(() => idp.audits('backchannel_logout').filter((e) => e.client_id === a.id || e.client_id === b.id).length === 2);
  for (const id of [a.id, b.id]) {
    expect(idp.audits('backchannel_logout').find((e) => e.client_id === id)).toMatchObject({ outcome: 'success', delivery: 'delivered', actor: aliceId, reason: 'end_session', attempts: 1 });
  }
  expect(idp.audits('backchannel_logout').some((e) => e.client_id === never.id || e.client_id === noUri.id)).toBe(false);
  expect(JSON.stringify(idp.lines)).not.toContain(toA!.token!.split('.')[2]);
  const after = await deliveries();
  expect(after.delivered - before.delivered).toBe(2);
});

test('/account: signing out one other session, then "everywhere else", sends logout tokens for exactly those sessions', async () => {
  const [rA, rB] = [await receiver(), await receiver()];
  const [a, b] = [await client('A2', rA), await client('B2', rB)];
  const laptop = new UserAgent();
  const inA = await signIn(a, laptop);
  const phone = new NamedBrowser(firefoxOnWindows);
  const inB = await signIn(b, phone);
  // The browser at /account is signed in to A as well: its own session never ends here.
  const here = new UserAgent();
  const hereA = await signIn(a, here);
  const { csrf } = await signInToAccount(url, alice, here);

  const list = await (await here.request(`${url}/account/sessions`)).text();
  const firefox = [...list.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1]!).find((li) => li.includes('Firefox'))!;
  const handle = /name="session" value="([^"]+)"/.exec(firefox)![1]!;
  expect((await here.postForm(`${url}/account/sessions/end`, { csrf, session: handle })).status).toBe(303);
  const [toB] = await rB.waitFor(1);
  expect(await logoutToken(toB!, b.id)).toMatchObject({ sub: aliceId, sid: inB.claims.sid });
  await quietFor(200);
  expect(rA.deliveries).toHaveLength(0);

  expect((await here.postForm(`${url}/account/sessions/end-others`, { csrf })).status).toBe(303);
  const [toA] = await rA.waitFor(1);
  expect(await logoutToken(toA!, a.id)).toMatchObject({ sub: aliceId, sid: inA.claims.sid });
  await quietFor(300);
  expect(rA.deliveries).toHaveLength(1); // not for this browser's own sign-in to A (hereA)
  expect((await logoutToken(toA!, a.id)).sid).not.toBe(hereA.claims.sid);
  expect(rB.deliveries).toHaveLength(1);
  await eventually(() => idp.audits('backchannel_logout').filter((e) => e.reason === 'session_ended' && e.delivery === 'delivered').length >= 2);
});

test('a password change on /account sends logout tokens to every client of every session of the account', async () => {
  const [rA, rB] = [await receiver(), await receiver()];
  const [a, b] = [await client('A3', rA), await client('B3', rB)];
  const laptop = new UserAgent();
  const inA = await signIn(a, laptop, bob);
  const inB = await signIn(b, laptop, bob);
  const phone = new UserAgent();
  const phoneB = await signIn(b, phone, bob);
  const { csrf } = await signInToAccount(url, bob, laptop);
  const res = await laptop.postForm(`${url}/account/password`, { csrf, current_password: bob.password, password: 'another long passphrase for bob' });
  expect(res.status).toBe(200);

  const [toA] = await rA.waitFor(1);
  await rB.waitFor(2);
  expect(await logoutToken(toA!, a.id)).toMatchObject({ sub: bobId, sid: inA.claims.sid });
  const sids = await Promise.all(rB.deliveries.map(async (d) => (await logoutToken(d, b.id)).sid));
  expect(sids.sort()).toEqual([inB.claims.sid, phoneB.claims.sid].sort());
  await quietFor(200);
  expect([rA.deliveries.length, rB.deliveries.length]).toEqual([1, 2]);
  await eventually(() => idp.audits('backchannel_logout').filter((e) => e.reason === 'credential_change' && e.actor === bobId).length === 3);
});

test('a new password set through a reset link, and deleting the account, tell the apps of the account\'s sessions', async () => {
  const r = await receiver();
  const a = await client('A4', r);
  const carolId = (await addUser(idp.server.store, carol)).id;
  const daveId = (await addUser(idp.server.store, dave)).id;
  const carolIn = await signIn(a, new UserAgent(), carol);
  const forgot = await openForgot(url);
  expect((await requestReset(forgot, carol.email)).status).toBe(200);
  expect((await useResetLink(resetLink(await mailbox.next(carol.email)), 'a brand new passphrase for carol')).status).toBe(200);
  const [toCarol] = await r.waitFor(1);
  expect(await logoutToken(toCarol!, a.id)).toMatchObject({ sub: carolId, sid: carolIn.claims.sid });

  const daveUa = new UserAgent();
  const daveIn = await signIn(a, daveUa, dave);
  const { csrf } = await signInToAccount(url, dave, daveUa);
  expect((await daveUa.postForm(`${url}/account/delete`, { csrf, current_password: dave.password })).status).toBe(200);
  const [, toDave] = await r.waitFor(2);
  expect(await logoutToken(toDave!, a.id)).toMatchObject({ sub: daveId, sid: daveIn.claims.sid });
  await quietFor(200);
  expect(r.deliveries).toHaveLength(2);
});

test('the CLI (users set-password, users remove) sends the logout tokens itself, signed with the store\'s key, and says how they went', async () => {
  const [ok, refusing] = [await receiver(), await receiver(() => 400)];
  const [a, b] = [await client('A5', ok), await client('B5', refusing)];
  const erin = { username: 'erin', password: 'a long passphrase for erin', email: 'erin@example.com', name: 'Erin' };
  const erinId = (await addUser(idp.server.store, erin)).id;
  const inA = await signIn(a, new UserAgent(), erin);
  // The CLI reads the server's configuration: the same store and ISSUER.
  const env = { ISSUER: url };
  const set = await cli(idp.databaseUrl, ['users', 'set-password', 'erin', '--password-stdin', '--json'], 'another passphrase for erin', 20_000, { ...env, LOG_LEVEL: 'info' });
  expect(set.code).toBe(0);
  expect(JSON.parse(set.stdout)).toMatchObject({ updated: true, sessions_ended: 1, logout_tokens: { delivered: 1, failed: 0, gave_up: 0 } });
  const [toA] = ok.deliveries;
  expect(await logoutToken(toA!, a.id)).toMatchObject({ sub: erinId, sid: inA.claims.sid });
  expect(set.stderr).toMatch(/"audit":"backchannel_logout".*"delivery":"delivered"/);
  expect(set.stderr).not.toContain(toA!.token!.split('.')[2]);

  await signIn(b, new UserAgent(), { ...erin, password: 'another passphrase for erin' });
  const removed = await cli(idp.databaseUrl, ['users', 'remove', 'erin'], undefined, 20_000, env);
  expect(removed.code).toBe(0);
  expect(removed.stdout).toMatch(/logout tokens to apps: 0 delivered, 1 not delivered/);
  expect(refusing.deliveries).toHaveLength(1);
  await logoutToken(refusing.deliveries[0]!, b.id);
  expect(ok.deliveries).toHaveLength(1);
});

test('the admin API setting a password tells the apps of the user\'s sessions', async () => {
  const r = await receiver();
  const a = await client('A6', r);
  const frank = { username: 'frank', password: 'a long passphrase for frank', email: 'frank@example.com', name: 'Frank' };
  const frankId = (await addUser(idp.server.store, frank)).id;
  const inA = await signIn(a, new UserAgent(), frank);
  const secret = 'a-very-long-client-secret-for-admin-tests-0123456789';
  const admin = await addClient(idp.server.store, { client_secret: secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], post_logout_redirect_uris: [], api_scopes: ['admin:users:write'] });
  const { access_token: token } = await oidc.clientCredentialsGrant(await discover(url, admin.client_id, secret), { resource: `${url}/admin`, scope: 'admin:users:write' });
  const res = await fetch(`${url}/admin/v1/users/${frankId}/password`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ password: 'a brand new passphrase for frank' }),
  });
  expect(res.status).toBe(200);
  const [toA] = await r.waitFor(1);
  expect(await logoutToken(toA!, a.id)).toMatchObject({ sub: frankId, sid: inA.claims.sid });
});

test('a client whose endpoint never answers does not hold up the sign-out page; it is retried, then given up and counted', async () => {
  const hang = await receiver(() => 'hang');
  const c = await client('hangs', hang);
  const before = await deliveries();
  const ua = new UserAgent();
  const { idToken } = await signIn(c, ua);
  const page = await signOut(ua, idToken);
  // The page was back before the first attempt could end (it ends only at its timeout), however
  // slow this machine is: nothing waited for the client.
  const [first] = await hang.waitFor(1);
  expect(page.at).toBeLessThan(first!.at + timing.attemptTimeoutMs);

  const gaveUp = await eventually(finalOutcome(c.id));
  expect(gaveUp).toMatchObject({ outcome: 'failure', delivery: 'gave_up', client_id: c.id, actor: aliceId });
  expect(gaveUp.attempts as number).toBeGreaterThanOrEqual(3);
  expect(hang.deliveries.length).toBe(gaveUp.attempts);
  expect(String(gaveUp.detail)).toMatch(/no answer within 500 ms/);
  // no retry starts later than retryForSeconds after the sign-out (+ what a busy machine adds to timers)
  expect(hang.deliveries.at(-1)!.at - hang.deliveries[0]!.at).toBeLessThanOrEqual(timing.retryForSeconds * 1000 + 300);
  const after = await deliveries();
  expect(after.gave_up - before.gave_up).toBe(1);
  expect(after.delivered - before.delivered).toBe(0);
});

test('a client that answers 500 twice and then 200 gets the token on the third attempt, a fresh valid token each time', async () => {
  const flaky = await receiver((n) => (n <= 2 ? 500 : 200));
  const c = await client('flaky', flaky);
  const before = await deliveries();
  const ua = new UserAgent();
  const { idToken, claims } = await signIn(c, ua);
  await signOut(ua, idToken);
  const outcome = await eventually(finalOutcome(c.id));
  expect(outcome).toMatchObject({ outcome: 'success', delivery: 'delivered', attempts: 3 });
  expect(flaky.deliveries).toHaveLength(3);
  const tokens = await Promise.all(flaky.deliveries.map((d) => logoutToken(d, c.id)));
  for (const t of tokens) expect(t).toMatchObject({ sub: aliceId, sid: claims.sid });
  expect(new Set(tokens.map((t) => t.jti)).size).toBe(3);
  // backoff: the second retry waited about twice as long as the first
  const [t1, t2, t3] = flaky.deliveries.map((d) => d.at);
  expect(t2! - t1!).toBeGreaterThanOrEqual(timing.firstRetryMs - 5);
  expect(t3! - t2!).toBeGreaterThanOrEqual(2 * timing.firstRetryMs - 5);
  const after = await deliveries();
  expect(after.delivered - before.delivered).toBe(1);
});

test('400 from the client (it refused the token) is final: one attempt, counted as failed', async () => {
  const refusing = await receiver(() => 400);
  const c = await client('refuses', refusing);
  const before = await deliveries();
  const ua = new UserAgent();
  const { idToken } = await signIn(c, ua);
  await signOut(ua, idToken);
  expect(await eventually(finalOutcome(c.id))).toMatchObject({ outcome: 'failure', delivery: 'failed', attempts: 1, detail: 'HTTP 400' });
  await quietFor(300);
  expect(refusing.deliveries).toHaveLength(1);
  const after = await deliveries();
  expect(after.failed - before.failed).toBe(1);
});

test('shutting down gives up what waits for a retry and waits for an attempt in flight no longer than its timeout', async () => {
  const other = await startIdport({ backchannelLogout: { attemptTimeoutMs: 1000, firstRetryMs: 50, retryForSeconds: 600 } });
  const saved = { idp, url };
  idp = other;
  url = other.server.url;
  try {
    await addUser(other.server.store);
    const hang = await receiver(() => 'hang');
    const c = await client('hangs at shutdown', hang);
    const ua = new UserAgent();
    const { idToken } = await signIn(c, ua);
    await signOut(ua, idToken);
    await hang.waitFor(1);
    const began = performance.now();
    await other.server.close();
    // bounded by the attempt's timeout (1 s), not by retryForSeconds (10 minutes)
    expect(performance.now() - began).toBeLessThan(3000);
    expect(finalOutcome(c.id)()).toMatchObject({ delivery: 'gave_up', detail: expect.stringMatching(/shutting down/) });
  } finally {
    idp = saved.idp;
    url = saved.url;
    await other.server.close();
  }
});
