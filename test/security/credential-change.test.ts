/**
 * A credential change ends what the old credential started: after `users set-password` or
 * `users remove` (the real CLI, from another process), the account's browser sessions, refresh
 * tokens, opaque access tokens and silent prompt=none sign-ins stop working.
 */
import { join } from 'node:path';

import { cli, killChildren } from '../helpers/cli.js';
import {
  addUser,
  alice,
  afterEachHealthy,
  authUrl,
  expectBackAtClient,
  freshCode,
  redeem,
  setup,
  tokenRequest,
  type Env,
} from './helpers.js';
import type { UserAgent } from '../helpers/user-agent.js';

let env: Env;
beforeAll(async () => {
  env = await setup();
});
afterAll(async () => {
  killChildren();
  await env.server.stop();
});
afterEachHealthy(() => [env?.server]);

const db = () => `sqlite:${join(env.server.dir, 'idport.db')}`;

/** A signed-in browser for `user` with the refresh and access tokens of its sign-in. */
async function signedIn(user: typeof alice) {
  const { code, verifier, ua } = await freshCode(env, { scope: 'openid offline_access', prompt: 'consent' }, undefined, user);
  const res = await redeem(env, code, verifier);
  expect(res.status).toBe(200);
  return { ua, access: String(res.body.access_token), refresh: String(res.body.refresh_token) };
}

/** What the old credential's sign-in can still do. */
async function stillWorks({ ua, access, refresh }: { ua: UserAgent; access: string; refresh: string }) {
  const silent = expectBackAtClient(await ua.request(authUrl(env, { prompt: 'none' })));
  const refreshed = await tokenRequest(env, { grant_type: 'refresh_token', refresh_token: refresh });
  const me = await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${access}` } });
  const account = await ua.request(`${env.url}/account`);
  return {
    silentSignIn: silent.get('code') !== null,
    refresh: refreshed.status === 200,
    userinfo: me.status === 200,
    accountPage: account.status === 200,
  };
}

const everything = { silentSignIn: true, refresh: true, userinfo: true, accountPage: true };
const nothing = { silentSignIn: false, refresh: false, userinfo: false, accountPage: false };

test('users set-password ends every session and grant of the account, and says so', async () => {
  const user = { username: 'dora', password: 'dora old passphrase', email: 'dora@example.com', name: 'Dora' };
  await addUser(env.server.store, user);
  const laptop = await signedIn(user);
  const phone = await signedIn(user);
  const bystander = await signedIn(alice);
  expect(await stillWorks(laptop)).toEqual(everything);

  const run = await cli(db(), ['users', 'set-password', 'dora', '--password', 'dora new passphrase']);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('password changed for dora; ended 2 sessions and revoked 2 app sign-ins');

  expect(await stillWorks(laptop)).toEqual(nothing);
  expect(await stillWorks(phone)).toEqual(nothing);
  expect(await stillWorks(bystander)).toEqual(everything);
  // the new password signs in as usual
  await signedIn({ ...user, password: 'dora new passphrase' });
});

test('users set-password --json reports what it ended', async () => {
  const user = { username: 'eve', password: 'eve old passphrase', email: 'eve@example.com', name: 'Eve' };
  await addUser(env.server.store, user);
  await signedIn(user);
  const run = await cli(db(), ['users', 'set-password', 'eve', '--password-stdin', '--json'], 'eve new passphrase\n');
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ updated: true, username: 'eve', sessions_ended: 1, grants_revoked: 1 });
});

test('users remove ends every session and grant of the account too', async () => {
  const user = { username: 'frank', password: 'frank long passphrase', email: 'frank@example.com', name: 'Frank' };
  const { id } = await addUser(env.server.store, user);
  const browser = await signedIn(user);
  expect(await env.server.store.consents.listByAccount(id)).toHaveLength(1);
  const run = await cli(db(), ['users', 'remove', 'frank']);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('removed user frank; ended 1 session and revoked 1 app sign-in');
  expect(await stillWorks(browser)).toEqual(nothing);
  expect(await env.server.store.consents.listByAccount(id)).toEqual([]);
});
