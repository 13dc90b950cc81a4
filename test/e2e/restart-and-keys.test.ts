import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';

import { rotateKeys } from '../../src/keys/key-manager.js';
import { addClient, addUser, discover, loginAndRedeem } from '../helpers/flow.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

const dir = tempDir();
let server: TestServer;
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function jwks(url: string) {
  return (await (await fetch(`${url}/jwks`)).json()) as JSONWebKeySet;
}

test('a restart on the same store keeps keys, refresh tokens and ID tokens valid; rotation keeps old keys published', async () => {
  const port = await freePort();
  const start = () => startTestServer({ port, issuer: `http://127.0.0.1:${port}` }, dir);

  server = await start();
  await addUser(server.store);
  const client = await addClient(server.store);
  let config = await discover(server.url, client.client_id, client.client_secret);
  const { tokens } = await loginAndRedeem(config, server.url, { scope: 'openid offline_access', extra: { prompt: 'consent' } });
  const keysBefore = await jwks(server.url);
  expect(keysBefore.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
  for (const k of keysBefore.keys) expect(k).not.toHaveProperty('d');

  await server.close();
  // let this process's HTTP client notice the closed keep-alive sockets, as a real restart would
  await new Promise((resolve) => setTimeout(resolve, 100));
  server = await start();
  config = await discover(server.url, client.client_id, client.client_secret);

  // same keys after restart: no new key generated, the old ID token still verifies
  expect(await jwks(server.url)).toEqual(keysBefore);
  const remoteKeys = () => createRemoteJWKSet(new URL(`${server.url}/jwks`));
  await expect(jwtVerify(tokens.id_token!, remoteKeys(), { issuer: server.url, audience: client.client_id })).resolves.toBeTruthy();
  // the refresh token issued before the restart still works
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.access_token).toBeTruthy();

  // rotation: new keys sign, old ones stay published (verify-only) so earlier tokens verify
  const oldRsKid = decodeProtectedHeader(tokens.id_token!).kid;
  const fresh = await rotateKeys(server.store, 3600);
  expect(await server.idport.reloadKeys()).toBe(true);
  expect(await server.idport.reloadKeys()).toBe(false);
  const after = await jwks(server.url);
  expect(after.keys).toHaveLength(4);
  expect(after.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldRsKid, ...fresh.map((k) => k.kid)]));
  await expect(jwtVerify(tokens.id_token!, remoteKeys(), { issuer: server.url, audience: client.client_id })).resolves.toBeTruthy();

  const second = await loginAndRedeem(config, server.url);
  const newRsKid = fresh.find((k) => k.alg === 'RS256')!.kid;
  expect(decodeProtectedHeader(second.tokens.id_token!).kid).toBe(newRsKid);
  await expect(jwtVerify(second.tokens.id_token!, remoteKeys(), { issuer: server.url, audience: client.client_id })).resolves.toBeTruthy();
});
