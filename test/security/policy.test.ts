/**
 * Weak secrets and dangerous registrations: the password policy (through the account service,
 * the real login page and the CLI) and the redirect URI rules for client registration (through
 * checkRedirectUri and `idport clients add`).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { AccountInputError, createAccountService } from '../../src/accounts/account-service.js';
import { checkRedirectUri } from '../../src/clients/redirect-policy.js';
import { openStore } from '../../src/storage/open-store.js';
import type { Store } from '../../src/storage/types.js';
import { cli as runCli, type Run } from '../helpers/cli.js';
import { afterEachHealthy, openInteraction, setup, type Env } from './helpers.js';
import { tempDir } from '../helpers/server.js';

/** `node bin/idport.js …args` on its own temp store, with a clean environment plus `extraEnv`. */
async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const dir = tempDir();
  try {
    return await runCli(`sqlite:${join(dir, 'idport.db')}`, args, undefined, 25_000, extraEnv);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const addClientCli = (uri: string, issuer?: string) =>
  cli(['clients', 'add', '--name', 'App', '--redirect-uri', uri, '--json'], issuer ? { ISSUER: issuer } : {});

let store: Store;
let env: Env;
/** CLI runs, started together in beforeAll (each is a separate Node process). */
const runs: Record<string, Promise<Run>> = {};

beforeAll(async () => {
  Object.assign(runs, {
    fragment: addClientCli('https://app.example.com/cb#frag'),
    javascript: addClientCli('javascript:alert(1)'),
    data: addClientCli('data:text/html,<script>alert(1)</script>'),
    httpProd: addClientCli('http://app.example.com/cb', 'https://id.example.com'),
    loopbackProd: addClientCli('http://127.0.0.1:8080/cb', 'https://id.example.com'),
    commonPassword: cli(['users', 'add', '--username', 'victor', '--password', 'password123', '--json']),
  });
  for (const run of Object.values(runs)) run.catch(() => undefined);
  store = await openStore('sqlite::memory:');
  env = await setup();
}, 60_000);
afterAll(async () => {
  await store.close();
  await env.server.stop();
  await Promise.allSettled(Object.values(runs));
});
afterEachHealthy(() => [env?.server]);

const policy = { minLength: 8, maxLength: 256 };
const service = () => createAccountService(store, policy);
let n = 0;
const create = (password: string, username = `user${(n += 1)}`) => service().create({ username, password, email: `${username}@example.com` });

describe('password policy (account service)', () => {
  test.each(['password123', 'iloveyou', 'PassWord123'])('common password %s is refused with the reason', async (password) => {
    await expect(create(password)).rejects.toThrow(new AccountInputError('password is on the list of commonly used passwords; choose another'));
  });

  test('7 characters is refused: "password must be at least 8 characters"', async () => {
    await expect(create('x7$kQ2p')).rejects.toThrow(new AccountInputError('password must be at least 8 characters'));
  });

  test('length counts characters, not UTF-16 units: 4 emoji (8 units) are too short', async () => {
    const emoji = '🔑🔒🗝🛡';
    expect(emoji.length).toBe(8);
    await expect(create(emoji)).rejects.toThrow(new AccountInputError('password must be at least 8 characters'));
  });

  test('257 characters is refused: "password must be at most 256 characters"', async () => {
    await expect(create('a1'.repeat(128) + 'z')).rejects.toThrow(new AccountInputError('password must be at most 256 characters'));
  });

  test('the username (any case) or the email as password is refused', async () => {
    await expect(create('quentin-the-user', 'quentin-the-user')).rejects.toThrow(new AccountInputError('password must not be your username or email'));
    await expect(create('QUENTIN-the-User', 'quentin-the-user')).rejects.toThrow(new AccountInputError('password must not be your username or email'));
    await expect(create('rita-mailbox@example.com', 'rita-mailbox')).rejects.toThrow(new AccountInputError('password must not be your username or email'));
  });

  test('set-password applies the same policy (a common password is refused)', async () => {
    const account = await create('a perfectly fine passphrase');
    await expect(service().setPassword(account.id, 'iloveyou')).rejects.toThrow(AccountInputError);
  });

  test('the CLI refuses a common password with the reason and exit code 1', async () => {
    const run = await runs.commonPassword!;
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('password is on the list of commonly used passwords');
  });
});

describe('long passwords are never truncated (real login page)', () => {
  const login = async (username: string, password: string) => {
    const page = await openInteraction(env);
    const res = await page.ua.request(new URL(`/interaction/${page.uid}/login`, env.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ csrf: page.csrf, login: username, password }).toString(),
    });
    return res.status;
  };

  test('a 64-character password is accepted; login works with exactly those 64, fails with the first 63', async () => {
    const password = 'Kx9#mP2$vL7@qR4!'.repeat(4);
    expect(password).toHaveLength(64);
    await createAccountService(env.server.store, policy).create({ username: 'sixtyfour', password });
    expect(await login('sixtyfour', password)).toBe(303);
    expect(await login('sixtyfour', password.slice(0, 63))).toBe(200);
    expect(await login('sixtyfour', `${password}x`)).toBe(200);
  });

  test('a 256-character password: login needs all 256 (a 72-byte bcrypt-style cut would let the first 72 in)', async () => {
    const password = Array.from({ length: 256 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[(i * 7) % 36]).join('');
    await createAccountService(env.server.store, policy).create({ username: 'twofiftysix', password });
    expect(await login('twofiftysix', password.slice(0, 72))).toBe(200);
    expect(await login('twofiftysix', password.slice(0, 255))).toBe(200);
    expect(await login('twofiftysix', password)).toBe(303);
  });
});

describe('client registration: redirect URI rules', () => {
  test.each([
    ['a fragment', 'https://app.example.com/cb#frag', 'must not have a fragment'],
    ['javascript:', 'javascript:alert(1)', 'forbidden scheme (javascript:)'],
    ['data:', 'data:text/html,<script>alert(1)</script>', 'forbidden scheme (data:)'],
    ['vbscript:', 'vbscript:msgbox(1)', 'forbidden scheme (vbscript:)'],
    ['file:', 'file:///etc/passwd', 'forbidden scheme (file:)'],
    ['credentials', 'https://user:pass@app.example.com/cb', 'must not carry credentials'],
    ['not absolute', '/callback', 'is not an absolute URI'],
  ])('checkRedirectUri refuses %s', (_name, uri, reason) => {
    expect(checkRedirectUri(uri, { production: false })).toContain(reason);
    expect(checkRedirectUri(uri, { production: true })).toContain(reason);
  });

  test('checkRedirectUri with an https issuer: non-loopback http refused, loopback http and https accepted', () => {
    expect(checkRedirectUri('http://app.example.com/cb', { production: true })).toContain('must use https');
    expect(checkRedirectUri('http://127.0.0.1:8080/cb', { production: true })).toBeUndefined();
    expect(checkRedirectUri('http://[::1]:8080/cb', { production: true })).toBeUndefined();
    expect(checkRedirectUri('https://app.example.com/cb', { production: true })).toBeUndefined();
    expect(checkRedirectUri('http://app.example.com/cb', { production: false })).toBeUndefined();
  });

  test.each([
    ['fragment', 'must not have a fragment'],
    ['javascript', 'forbidden scheme (javascript:)'],
    ['data', 'forbidden scheme (data:)'],
  ])('`idport clients add` refuses a %s redirect URI (exit 2, no client printed)', async (key, reason) => {
    const run = await runs[key]!;
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`invalid client: `);
    expect(run.stderr).toContain(reason);
  });

  test('`idport clients add` with ISSUER=https://id.example.com refuses http://app.example.com/cb', async () => {
    const run = await runs.httpProd!;
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('must use https');
  });

  test('`idport clients add` with ISSUER=https://id.example.com accepts http://127.0.0.1:8080/cb (loopback)', async () => {
    const run = await runs.loopbackProd!;
    expect(run.stderr).not.toContain('idport:');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { redirect_uris: string[]; client_secret: string };
    expect(out.redirect_uris).toEqual(['http://127.0.0.1:8080/cb']);
    expect(out.client_secret.length).toBeGreaterThanOrEqual(43);
  });
});
