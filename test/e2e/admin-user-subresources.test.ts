/**
 * The admin API's sub-resources of a user, over real HTTP with real admin tokens: factors
 * (listed without secrets, one removed, all reset) and sessions (listed, one or all ended, with
 * their grants and back-channel logout). The attack cases: another user's factor or session
 * named under this user's path, and a read-only token asking for a removal.
 */
import { Writable } from 'node:stream';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import pino from 'pino';

import { passkeyFactorId } from '../../src/factors/factor-service.js';
import type { AccountRecord } from '../../src/storage/types.js';
import { adminCall, adminToken, expectProblem, type AdminAnswer } from '../helpers/admin-api.js';
import { addClient, addUser, alice, discover, loginAndRedeem } from '../helpers/flow.js';
import { startLogoutReceiver, type LogoutReceiver } from '../helpers/logout-receiver.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const audits = (event: string) => lines.filter((l) => l.kind === 'audit' && l.audit === event);

let server: TestServer;
let issuer: string;
let receiver: LogoutReceiver;
let app: oidc.Configuration;
let appId: string;
let reader: string;
let writer: string;
let writerId: string;

const bob = { username: 'bob', password: 'bob has a long passphrase', email: 'bob@example.com', name: 'Bob' };
let aliceAccount: AccountRecord;
let bobAccount: AccountRecord;

const call = (token: string | undefined, method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(issuer, token, method, path, body);
const passkey = (account: AccountRecord, id: string, name: string) =>
  server.store.factors.addPasskey({ id, accountId: account.id, publicKey: `public-key-of-${id}`, counter: 0, transports: [], deviceType: 'multiDevice', backedUp: true, aaguid: 'x', name });

/** A real sign-in of `user` to the app in a browser of its own: a session and a grant with a refresh token. */
async function signIn(user: { username: string; password: string }) {
  const { tokens } = await loginAndRedeem(app, issuer, { user, scope: 'openid offline_access', extra: { prompt: 'consent' } });
  expect(tokens.refresh_token).toEqual(expect.any(String));
  return tokens.refresh_token!;
}

/** Whether a refresh token still works (a confidential client's is not rotated). */
const refreshes = (token: string) => oidc.refreshTokenGrant(app, token).then(() => true, (err: { error?: string }) => (err.error === 'invalid_grant' ? false : Promise.reject(err)));

beforeAll(async () => {
  server = await startTestServer({}, tempDir(), pino({ level: 'info' }, sink));
  issuer = server.url;
  receiver = await startLogoutReceiver();
  aliceAccount = await addUser(server.store);
  bobAccount = await addUser(server.store, bob);
  const client = await addClient(server.store, { backchannel_logout_uri: receiver.uri });
  appId = client.client_id;
  app = await discover(issuer, client.client_id, client.client_secret);
  reader = (await adminToken(server.store, issuer, ['admin:users:read'])).token;
  ({ token: writer, clientId: writerId } = await adminToken(server.store, issuer, ['admin:users:read', 'admin:users:write']));
});
afterAll(async () => {
  await receiver.close();
  await server.stop();
});

describe('/users/{id}/factors', () => {
  test('lists passkeys, the authenticator app and recovery codes: ids, names and dates, never a secret, public key or credential id', async () => {
    await passkey(aliceAccount, 'alice-cred-1', 'Phone');
    await server.store.factors.setTotp(aliceAccount.id, { secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
    await server.store.factors.setRecoveryCodes(aliceAccount.id, ['hash-1', 'hash-2', 'hash-3']);
    const answer = await call(reader, 'GET', `/users/${aliceAccount.id}/factors`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      passkeys: [{ id: passkeyFactorId('alice-cred-1'), name: 'Phone', device_type: 'multiDevice', created_at: expect.any(String), last_used_at: null }],
      authenticator_app: true,
      authenticator_app_added_at: expect.any(String),
      recovery_codes_left: 3,
    });
    for (const leaked of ['alice-cred-1', 'public-key-of', 'JBSWY3DP', 'hash-1']) expect(answer.text).not.toContain(leaked);
    expectProblem(await call(reader, 'GET', '/users/nobody/factors'), 404);
  });

  test('another user\'s passkey named under this user\'s path is 404 and removes nothing; so is a factor that is not there', async () => {
    await passkey(bobAccount, 'bob-cred-1', 'Bob key');
    const bobs = passkeyFactorId('bob-cred-1');
    expectProblem(await call(writer, 'DELETE', `/users/${aliceAccount.id}/factors/${bobs}`), 404);
    expect((await server.store.factors.listPasskeys(bobAccount.id)).map((p) => p.id)).toEqual(['bob-cred-1']);
    expect(await server.store.factors.listPasskeys(aliceAccount.id)).toHaveLength(1);
    expectProblem(await call(writer, 'DELETE', `/users/${aliceAccount.id}/factors/bob-cred-1`), 404); // the raw credential id is no factor id either
    expectProblem(await call(writer, 'DELETE', `/users/${aliceAccount.id}/factors/no-such-factor`), 404);
    expectProblem(await call(writer, 'DELETE', `/users/nobody/factors/${bobs}`), 404);
    expect(await server.store.factors.listPasskeys(bobAccount.id)).toHaveLength(1);
    await server.store.factors.removePasskey(bobAccount.id, 'bob-cred-1'); // bob signs in with his password below
  });

  test('a read-only token cannot remove a factor (403 insufficient_scope) and nothing is removed', async () => {
    const answer = await call(reader, 'DELETE', `/users/${aliceAccount.id}/factors/${passkeyFactorId('alice-cred-1')}`);
    expectProblem(answer, 403);
    expect(answer.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expectProblem(await call(reader, 'DELETE', `/users/${aliceAccount.id}/factors/totp`), 403);
    expectProblem(await call(reader, 'POST', `/users/${aliceAccount.id}/reset-mfa`), 403);
    expect(await server.store.factors.listPasskeys(aliceAccount.id)).toHaveLength(1);
    expect(await server.store.factors.getTotp(aliceAccount.id)).toBeDefined();
  });

  test('removes one passkey, then the authenticator app, audited with the calling client', async () => {
    const id = passkeyFactorId('alice-cred-1');
    expect((await call(writer, 'DELETE', `/users/${aliceAccount.id}/factors/${id}`)).status).toBe(204);
    expect(await server.store.factors.listPasskeys(aliceAccount.id)).toEqual([]);
    expectProblem(await call(writer, 'DELETE', `/users/${aliceAccount.id}/factors/${id}`), 404);
    expect((await call(writer, 'DELETE', `/users/${aliceAccount.id}/factors/totp`)).status).toBe(204);
    expect(await server.store.factors.getTotp(aliceAccount.id)).toBeUndefined();
    expectProblem(await call(writer, 'DELETE', `/users/${aliceAccount.id}/factors/totp`), 404);
    expect(audits('factor.removed')).toEqual([
      expect.objectContaining({ outcome: 'success', actor: `client:${writerId}`, via: 'admin-api', sub: aliceAccount.id, factor: 'passkey', passkey_id: id }),
      expect.objectContaining({ outcome: 'success', actor: `client:${writerId}`, via: 'admin-api', sub: aliceAccount.id, factor: 'totp' }),
    ]);
    expect(audits('admin.call').filter((a) => a.operation === 'removeUserFactor')).toEqual(expect.arrayContaining([expect.objectContaining({ client_id: writerId, status: 204 })]));
  });

  test('the last way in of an account without a password is not removed (409), as on the account page', async () => {
    const create = await call(writer, 'POST', '/users', { username: 'carol' });
    expect(create.status).toBe(201);
    const carol = (await server.store.accounts.findById(create.body.sub))!;
    await passkey(carol, 'carol-cred-1', 'Only key');
    expectProblem(await call(writer, 'DELETE', `/users/${carol.id}/factors/${passkeyFactorId('carol-cred-1')}`), 409);
    expect(await server.store.factors.listPasskeys(carol.id)).toHaveLength(1);
  });

  test('reset-mfa removes every factor and ends the user\'s sessions and app sign-ins, as `users reset-mfa` does', async () => {
    const refresh = await signIn(bob);
    await passkey(bobAccount, 'bob-cred-2', 'Bob key');
    await server.store.factors.setTotp(bobAccount.id, { secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
    await server.store.factors.setRecoveryCodes(bobAccount.id, ['h1']);
    const answer = await call(writer, 'POST', `/users/${bobAccount.id}/reset-mfa`);
    expect(answer).toMatchObject({ status: 200, body: { sessions_ended: 1, grants_revoked: 1 } });
    const after = await call(reader, 'GET', `/users/${bobAccount.id}/factors`);
    expect(after.body).toEqual({ passkeys: [], authenticator_app: false, authenticator_app_added_at: null, recovery_codes_left: 0 });
    expect(await refreshes(refresh)).toBe(false);
    expect(audits('user.mfa_reset')).toEqual([expect.objectContaining({ actor: `client:${writerId}`, via: 'admin-api', sub: bobAccount.id, sessions_ended: 1, grants_revoked: 1 })]);
    expectProblem(await call(writer, 'POST', '/users/nobody/reset-mfa'), 404);
  });
});

describe('/users/{id}/sessions', () => {
  let firstRefresh: string;

  test('lists the user\'s sessions with their apps, sign-in method and last use; nobody else\'s', async () => {
    firstRefresh = await signIn(alice);
    await signIn(bob);
    const answer = await call(reader, 'GET', `/users/${aliceAccount.id}/sessions`);
    expect(answer.status).toBe(200);
    expect(answer.body.items).toEqual([
      { id: expect.stringMatching(/^[\w-]{32}$/), signed_in_at: expect.any(String), last_seen_at: expect.any(String), ip: expect.any(String), user_agent: expect.any(String), clients: [appId], amr: ['pwd'], acr: expect.any(String) },
    ]);
    const session = (await server.store.model('Session').findByAccount(aliceAccount.id))[0]!;
    expect(answer.text).not.toContain(session.id);
    expectProblem(await call(reader, 'GET', '/users/nobody/sessions'), 404);
  });

  test('another user\'s session named under this user\'s path is 404 and ends nothing; a read-only token cannot end any (403)', async () => {
    const bobRefresh = await signIn(bob);
    const bobSessions = (await call(reader, 'GET', `/users/${bobAccount.id}/sessions`)).body.items as { id: string }[];
    expect(bobSessions.length).toBeGreaterThan(0);
    for (const { id } of bobSessions) expectProblem(await call(writer, 'DELETE', `/users/${aliceAccount.id}/sessions/${id}`), 404);
    expectProblem(await call(writer, 'DELETE', `/users/nobody/sessions/${bobSessions[0]!.id}`), 404);
    expectProblem(await call(writer, 'DELETE', '/users/nobody/sessions'), 404);
    const denied = await call(reader, 'DELETE', `/users/${bobAccount.id}/sessions/${bobSessions[0]!.id}`);
    expectProblem(denied, 403);
    expect(denied.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expectProblem(await call(reader, 'DELETE', `/users/${bobAccount.id}/sessions`), 403);
    expect((await call(reader, 'GET', `/users/${bobAccount.id}/sessions`)).body.items).toHaveLength(bobSessions.length);
    expect(await refreshes(bobRefresh)).toBe(true);
  });

  test('ending one session ends only it and its grant; its app gets a logout token', async () => {
    const kept = await signIn(alice);
    const [newest, older] = (await call(reader, 'GET', `/users/${aliceAccount.id}/sessions`)).body.items as { id: string }[];
    expect(older).toBeDefined();
    const before = receiver.deliveries.length;
    const answer = await call(writer, 'DELETE', `/users/${aliceAccount.id}/sessions/${older!.id}`);
    expect(answer).toMatchObject({ status: 200, body: { sessions_ended: 1, grants_revoked: 1 } });
    expect(((await call(reader, 'GET', `/users/${aliceAccount.id}/sessions`)).body.items as { id: string }[]).map((s) => s.id)).toEqual([newest!.id]);
    expectProblem(await call(writer, 'DELETE', `/users/${aliceAccount.id}/sessions/${older!.id}`), 404);
    expect(await refreshes(kept)).toBe(true);
    expect(await refreshes(firstRefresh)).toBe(false);
    const [delivery] = (await receiver.waitFor(before + 1)).slice(before);
    expect(decodeJwt(delivery!.token!)).toMatchObject({ iss: issuer, aud: appId, sub: aliceAccount.id });
    expect(audits('session.ended')).toEqual(expect.arrayContaining([expect.objectContaining({ actor: `client:${writerId}`, via: 'admin-api', sub: aliceAccount.id, session: older!.id, sessions_ended: 1 })]));
  });

  test('ending every session revokes every grant: the refresh token from a real sign-in stops working', async () => {
    const refresh = await signIn(alice);
    expect(await refreshes(refresh)).toBe(true);
    const count = ((await call(reader, 'GET', `/users/${aliceAccount.id}/sessions`)).body.items as unknown[]).length;
    const before = receiver.deliveries.length;
    const answer = await call(writer, 'DELETE', `/users/${aliceAccount.id}/sessions`);
    expect(answer).toMatchObject({ status: 200, body: { sessions_ended: count, grants_revoked: count } });
    expect(await refreshes(refresh)).toBe(false);
    expect((await call(reader, 'GET', `/users/${aliceAccount.id}/sessions`)).body.items).toEqual([]);
    await receiver.waitFor(before + count);
    // bob's sign-ins are untouched
    expect(((await call(reader, 'GET', `/users/${bobAccount.id}/sessions`)).body.items as unknown[]).length).toBeGreaterThan(0);
    expect(audits('session.ended')).toEqual(expect.arrayContaining([expect.objectContaining({ actor: `client:${writerId}`, sub: aliceAccount.id, all: true, sessions_ended: count, grants_revoked: count })]));
  });
});
