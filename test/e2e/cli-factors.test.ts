/**
 * The CLI and second factors: `users show` lists a user's factors (names and dates, never
 * secrets), `users reset-mfa` removes them and ends the user's sign-ins like a password change,
 * `clients add|update --require-mfa` marks a client that needs a second factor.
 */
import { join } from 'node:path';

import { createFactorService, passkeyFactorId } from '../../src/factors/factor-service.js';
import { base32Decode, hotp, totpStep } from '../../src/factors/totp.js';
import { cli, killChildren } from '../helpers/cli.js';
import { addClient, addUser, discover } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { authUrl, expectBackAtClient, freshCode, redeem, tokenRequest, type Env } from '../security/helpers.js';

let server: TestServer;
let env: Env;
let db: string;
beforeAll(async () => {
  server = await startTestServer();
  db = `sqlite:${join(server.dir, 'idport.db')}`;
  await addUser(server.store);
  const client = await addClient(server.store, { redirect_uris: ['http://127.0.0.1:8080/callback'] });
  env = { server, url: server.url, client, config: await discover(server.url, client.client_id, client.client_secret) };
});
afterAll(async () => {
  killChildren();
  await server.stop();
});

const json = (run: { code: number | null; stdout: string; stderr: string }) => {
  expect([run.code, run.stderr]).toEqual([0, '']);
  return JSON.parse(run.stdout) as Record<string, unknown>;
};

test('users show lists passkeys, the authenticator app and recovery codes left — never a secret', async () => {
  const account = (await server.store.accounts.findByLogin('alice'))!;
  const factors = createFactorService({ factors: server.store.factors, counters: server.store.counters, issuerName: 'idport' });
  const { secret } = factors.newTotp('alice');
  const codes = await factors.confirmTotp(account.id, secret, hotp(base32Decode(secret)!, totpStep(Date.now())));
  await server.store.factors.addPasskey({ id: 'cred-1', accountId: account.id, publicKey: 'pk', counter: 0, transports: [], deviceType: 'multiDevice', backedUp: true, aaguid: 'x', name: 'Phone' });
  const run = await cli(db, ['users', 'show', 'alice', '--json']);
  const shown = json(run);
  expect(shown.factors).toEqual({
    passkeys: [{ id: passkeyFactorId('cred-1'), name: 'Phone', device_type: 'multiDevice', created_at: expect.any(String), last_used_at: null }],
    authenticator_app: true,
    authenticator_app_added_at: expect.any(String),
    recovery_codes_left: 10,
  });
  for (const leaked of [secret, ...codes!, 'cred-1', 'pk']) expect(run.stdout).not.toContain(leaked);
});

test('users reset-mfa removes every factor and ends the user\'s sessions and grants, and says so', async () => {
  const bob = { username: 'bob', password: 'bob has a long passphrase', email: 'bob@example.com', name: 'Bob' };
  const account = await addUser(server.store, bob);
  // bob signs in (no second factor yet), then sets factors up
  const { code, verifier, ua } = await freshCode(env, { scope: 'openid offline_access', prompt: 'consent' }, undefined, bob);
  const tokens = await redeem(env, code, verifier);
  expect(tokens.status).toBe(200);
  await server.store.factors.addPasskey({ id: 'cred-bob', accountId: account.id, publicKey: 'pk', counter: 0, transports: [], deviceType: 'singleDevice', backedUp: false, aaguid: 'x', name: 'Key' });
  await server.store.factors.setTotp(account.id, { secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
  await server.store.factors.setRecoveryCodes(account.id, ['h1', 'h2']);
  const run = await cli(db, ['users', 'reset-mfa', 'bob']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^removed every passkey, authenticator app and recovery code of bob; ended 1 session and revoked 1 app sign-in/);
  expect(await server.store.factors.listPasskeys(account.id)).toEqual([]);
  expect(await server.store.factors.getTotp(account.id)).toBeUndefined();
  expect(await server.store.factors.countRecoveryCodes(account.id)).toBe(0);
  // what the old sign-in started is gone
  expect(expectBackAtClient(await ua.request(authUrl(env, { prompt: 'none' }))).get('error')).toBe('login_required');
  expect((await tokenRequest(env, { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token) })).status).toBe(400);
});

test('clients add --require-mfa, and clients update turns it on and off; discovery lists the acr values', async () => {
  const added = json(await cli(db, ['clients', 'add', '--name', 'Payroll', '--redirect-uri', 'https://payroll.example/cb', '--require-mfa', '--json']));
  expect(added.require_mfa).toBe(true);
  const id = String(added.client_id);
  expect(json(await cli(db, ['clients', 'update', id, '--no-require-mfa', '--json'])).require_mfa).toBeUndefined();
  expect((await server.store.clients.find(id))?.require_mfa).toBeUndefined();
  expect(json(await cli(db, ['clients', 'update', id, '--require-mfa', '--json'])).require_mfa).toBe(true);
  expect((await server.store.clients.find(id))?.require_mfa).toBe(true);
  const usage = await cli(db, ['clients', 'update', id]);
  expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('say what to change: --require-mfa, --require-par, --require-dpop')]);
  const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as { acr_values_supported: string[] };
  expect(meta.acr_values_supported).toEqual(['urn:idport:acr:1fa', 'urn:idport:acr:mfa']);
});
