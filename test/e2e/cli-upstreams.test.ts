/**
 * `idport upstreams …`: the real command line (bin/idport.js → dist/cli) against a temp SQLite
 * store. The secret is stored (sealed when IDPORT_KEK is set) and never printed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { openStore } from '../../src/storage/open-store.js';
import { cli, killChildren, type Run } from '../helpers/cli.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir();
const db = `sqlite:${join(dir, 'idport.db')}`;
const kek = Buffer.alloc(32, 9).toString('base64url');
const env = { IDPORT_KEK: kek, ISSUER: 'https://id.example.com' };

afterAll(() => {
  killChildren();
  rmSync(dir, { recursive: true, force: true });
});

const json = (run: Run) => {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(run.stdout) as Record<string, unknown>;
};

const failure = (run: Run, message: RegExp) => {
  expect(run.code).not.toBe(0);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/^\s{4}at /m);
};

test('add (secret from stdin), list, show, update, remove; the secret is never printed and is sealed at rest', async () => {
  const added = json(await cli(db, ['upstreams', 'add', '--name', 'Acme SSO', '--issuer', 'https://sso.acme.example/', '--client-id', 'idport-at-acme',
    '--client-secret-stdin', '--button-label', 'Acme', '--no-jit', '--claim-map', '{"name":"display_name"}', '--json'], 'the-upstream-secret\n', 20_000, env));
  expect(added).toMatchObject({
    id: 'acme-sso', name: 'Acme SSO', preset: 'oidc', issuer: 'https://sso.acme.example', clientId: 'idport-at-acme', jit: false, linkByVerifiedEmail: false,
    buttonLabel: 'Acme', claimMap: { name: 'display_name' }, secret_sealed: true, redirect_uri: 'https://id.example.com/upstream/acme-sso/callback',
  });
  expect(added).not.toHaveProperty('secrets');

  const human = await cli(db, ['upstreams', 'show', 'acme-sso'], undefined, 20_000, env);
  expect(human.stdout).toContain('https://id.example.com/upstream/acme-sso/callback');
  expect(human.stdout).toContain('never shown');

  const updated = json(await cli(db, ['upstreams', 'update', 'acme-sso', '--jit', '--link-by-verified-email', '--json'], undefined, 20_000, env));
  expect(updated).toMatchObject({ jit: true, linkByVerifiedEmail: true, clientId: 'idport-at-acme' });

  const listed = json(await cli(db, ['upstreams', 'list', '--json'], undefined, 20_000, env));
  expect((listed.upstreams as { id: string }[]).map((u) => u.id)).toEqual(['acme-sso']);
  for (const run of [added, updated, listed]) expect(JSON.stringify(run)).not.toContain('the-upstream-secret');

  // at rest: a JWE, not the secret; the secret is what the registry unseals
  const store = await openStore(db);
  try {
    const stored = await store.upstreams.find('acme-sso');
    expect(JSON.stringify(stored)).not.toContain('the-upstream-secret');
    expect(typeof stored?.secrets.jwe).toBe('string');
  } finally {
    await store.close();
  }

  expect(json(await cli(db, ['upstreams', 'remove', 'acme-sso', '--json'], undefined, 20_000, env))).toEqual({ removed: true, id: 'acme-sso' });
  failure(await cli(db, ['upstreams', 'show', 'acme-sso'], undefined, 20_000, env), /no upstream "acme-sso"/);
});

test('bad input: one clear line each, no stack, nothing stored', async () => {
  failure(await cli(db, ['upstreams', 'add', '--name', 'X', '--issuer', 'http://sso.example', '--client-id', 'a', '--client-secret', 'b'], undefined, 20_000, env), /https/);
  failure(await cli(db, ['upstreams', 'add', '--name', 'X', '--client-id', 'a', '--client-secret', 'b'], undefined, 20_000, env), /--issuer is required/);
  failure(await cli(db, ['upstreams', 'add', '--name', 'X', '--issuer', 'https://x.example', '--client-id', 'a'], undefined, 20_000, env), /--client-secret/);
  failure(await cli(db, ['upstreams', 'add', '--name', 'X', '--issuer', 'https://x.example', '--client-id', 'a', '--client-secret', 'b', '--jit', '--no-jit'], undefined, 20_000, env), /contradict/);
  failure(await cli(db, ['upstreams', 'add', '--name', 'X', '--issuer', 'https://x.example', '--client-id', 'a', '--client-secret', 'b', '--claim-map', '[1]'], undefined, 20_000, env), /JSON object/);
  failure(await cli(db, ['upstreams', 'add', '--name', 'X', '--preset', 'apple', '--client-id', 'a', '--client-secret', 'b'], undefined, 20_000, env), /--private-key-file is required for apple/);
  failure(await cli(db, ['upstreams', 'add', '--name', 'X', '--preset', 'myspace', '--client-id', 'a', '--client-secret', 'b'], undefined, 20_000, env), /not a preset/);
  expect(json(await cli(db, ['upstreams', 'list', '--json'], undefined, 20_000, env))).toEqual({ upstreams: [] });
});

test('the apple, microsoft and naver presets: their own options; Apple\'s key read from a file, sealed, never printed', async () => {
  const keyFile = join(dir, 'AuthKey_KEY987ABCD.p8');
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(keyFile, pem, { mode: 0o600 });
  const apple = json(await cli(db, ['upstreams', 'add', '--name', 'Apple', '--preset', 'apple', '--client-id', 'com.example.signin', '--team-id', 'TEAM123456',
    '--key-id', 'KEY987ABCD', '--private-key-file', keyFile, '--json'], undefined, 20_000, env));
  expect(apple).toMatchObject({ id: 'apple', issuer: 'https://appleid.apple.com', scope: 'openid email name', settings: { teamId: 'TEAM123456', keyId: 'KEY987ABCD' }, secret_sealed: true });
  const shown = await cli(db, ['upstreams', 'show', 'apple'], undefined, 20_000, env);
  expect(shown.stdout).toMatch(/^private key: +stored, sealed under IDPORT_KEK \(never shown\)$/m);
  for (const out of [JSON.stringify(apple), shown.stdout]) expect(out).not.toContain(pem.split('\n')[1]);
  failure(await cli(db, ['upstreams', 'add', '--name', 'Apple 2', '--preset', 'apple', '--client-id', 'c', '--team-id', 'TEAM123456', '--key-id', 'KEY987ABCD',
    '--private-key-file', join(dir, 'missing.p8')], undefined, 20_000, env), /--private-key-file: cannot read .*ENOENT/);

  expect(json(await cli(db, ['upstreams', 'add', '--name', 'Microsoft', '--preset', 'microsoft', '--tenant', 'common', '--client-id', 'c', '--client-secret', 's', '--json'], undefined, 20_000, env)))
    .toMatchObject({ issuer: 'https://login.microsoftonline.com', settings: { tenant: 'common' } });
  expect(json(await cli(db, ['upstreams', 'add', '--name', 'Naver', '--preset', 'naver', '--client-id', 'c', '--client-secret', 's', '--json'], undefined, 20_000, env)))
    .toMatchObject({ issuer: 'https://nid.naver.com', settings: { apiUrl: 'https://openapi.naver.com' } });
  failure(await cli(db, ['upstreams', 'add', '--name', 'M2', '--preset', 'microsoft', '--tenant', 'a/b', '--client-id', 'c', '--client-secret', 's'], undefined, 20_000, env), /--tenant is/);
  // --tenant changes the tenant only
  expect(json(await cli(db, ['upstreams', 'update', 'microsoft', '--tenant', 'organizations', '--json'], undefined, 20_000, env))).toMatchObject({ settings: { tenant: 'organizations' } });
  for (const id of ['apple', 'microsoft', 'naver']) json(await cli(db, ['upstreams', 'remove', id, '--json'], undefined, 20_000, env));
});
