/**
 * The CLI and token exchange: `clients add --grant-type token-exchange [--allow-impersonation]`
 * makes a service that can exchange at once on a running server over the same store, and
 * `clients update --allow-impersonation | --no-allow-impersonation` switches what its tokens say.
 */
import { join } from 'node:path';

import { cli, killChildren } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { billingApi, exchange, introspect, ordersApi, setupCast, tokenExchangeGrant, type Cast, type TestClient } from '../helpers/token-exchange.js';

let server: TestServer;
let cast: Cast;
let db: string;
beforeAll(async () => {
  server = await startTestServer();
  db = `sqlite:${join(server.dir, 'idport.db')}`;
  cast = await setupCast(server);
});
afterAll(async () => {
  killChildren();
  await server.stop();
});

const json = (run: { code: number | null; stdout: string; stderr: string }) => {
  expect([run.code, run.stderr]).toEqual([0, '']);
  return JSON.parse(run.stdout) as Record<string, unknown>;
};

test('clients add --grant-type token-exchange makes a service that exchanges; update switches impersonation on and off', async () => {
  const added = json(await cli(db, ['clients', 'add', '--name', 'Orders backend 2', '--grant-type', 'token-exchange', '--introspect-for', ordersApi, '--scope', 'orders:read', '--json']));
  expect(added).toMatchObject({ grant_types: [tokenExchangeGrant], redirect_uris: [], response_types: [], introspect_for: [ordersApi], api_scopes: ['orders:read'] });
  expect(added).not.toHaveProperty('allow_impersonation');
  const service = added as unknown as TestClient;
  const id = String(added.client_id);

  const user = await cast.signIn();
  const delegated = await exchange(server, service, user.access_token, { resource: billingApi });
  expect(delegated.status).toBe(200);
  expect((await introspect(server, cast.billing, delegated.body.access_token as string)).body.act).toEqual({ sub: id });

  expect(json(await cli(db, ['clients', 'update', id, '--allow-impersonation', '--json'])).allow_impersonation).toBe(true);
  const impersonated = await exchange(server, service, user.access_token, { resource: billingApi });
  expect(impersonated.status).toBe(200);
  const seen = await introspect(server, cast.billing, impersonated.body.access_token as string);
  expect(seen.body).toMatchObject({ active: true, sub: cast.aliceId, client_id: id });
  expect(seen.body.act).toBeUndefined();

  expect(json(await cli(db, ['clients', 'update', id, '--no-allow-impersonation', '--json'])).allow_impersonation).toBeUndefined();
  expect((await server.store.clients.find(id))?.allow_impersonation).toBeUndefined();
  const again = await exchange(server, service, user.access_token, { resource: billingApi });
  expect((await introspect(server, cast.billing, again.body.access_token as string)).body.act).toEqual({ sub: id });
});

test('the CLI refuses a public token exchange client, impersonation without the grant, and stores nothing', async () => {
  const before = (await server.store.clients.list()).length;
  const pub = await cli(db, ['clients', 'add', '--name', 'X', '--grant-type', 'token-exchange', '--public']);
  expect([pub.code, pub.stderr]).toEqual([2, expect.stringContaining('cannot use token exchange')]);
  const web = await cli(db, ['clients', 'add', '--name', 'X', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--allow-impersonation']);
  expect([web.code, web.stderr]).toEqual([2, expect.stringContaining('--allow-impersonation needs --grant-type token-exchange')]);
  const update = await cli(db, ['clients', 'update', cast.app.client_id, '--allow-impersonation']);
  expect(update.code).not.toBe(0);
  expect(update.stderr).toContain('allow_impersonation needs the token-exchange grant');
  expect((await server.store.clients.find(cast.app.client_id))?.allow_impersonation).toBeUndefined();
  expect((await server.store.clients.list()).length).toBe(before);
});
