/**
 * `idport clients add|update` with the Back-Channel Logout 1.0 metadata, through the real command
 * line (bin/idport.js → dist/cli) on a temp store: what is stored, what the client policy refuses.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { cli, killChildren, type Run } from '../helpers/cli.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir();
const db = `sqlite:${join(dir, 'idport.db')}`;
const run = (args: string[], env: Record<string, string> = {}) => cli(db, args, undefined, 20_000, env);

function json(r: Run): Record<string, unknown> {
  if (r.code !== 0) throw new Error(`idport CLI failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

afterAll(() => {
  killChildren();
  rmSync(dir, { recursive: true, force: true });
});

const web = ['clients', 'add', '--name', 'Web', '--redirect-uri', 'http://127.0.0.1:8080/cb'];
const count = async () => (json(await run(['clients', 'list', '--json'])).clients as unknown[]).length;

test.each([
  ['a fragment', ['--backchannel-logout-uri', 'http://127.0.0.1:8080/logout#x'], {}, /invalid client: backchannel_logout_uri: .*fragment/],
  ['a relative URI', ['--backchannel-logout-uri', '/logout'], {}, /invalid client: backchannel_logout_uri: .*absolute/],
  ['another scheme', ['--backchannel-logout-uri', 'ftp://127.0.0.1/logout'], {}, /invalid client: backchannel_logout_uri: .*http\(s\)/],
  ['session required with no URI', ['--backchannel-logout-session-required'], {}, /invalid client: backchannel_logout_session_required needs a backchannel_logout_uri/],
  ['plain http with an https issuer', ['--backchannel-logout-uri', 'http://127.0.0.1:8080/logout'], { ISSUER: 'https://id.example.com' }, /invalid client: backchannel_logout_uri: .*must use https/],
])('clients add refuses %s (these run first, on an empty store)', async (_what, flags, env, message) => {
  const r = await run([...web, ...flags, '--json'], env);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(message);
});

test('the refused clients were not stored', async () => {
  expect(await count()).toBe(0);
});

test('clients add --backchannel-logout-uri --backchannel-logout-session-required stores both; show lists them', async () => {
  const added = json(await run([...web, '--backchannel-logout-uri', 'http://127.0.0.1:8080/backchannel-logout', '--backchannel-logout-session-required', '--json']));
  expect(added).toMatchObject({ backchannel_logout_uri: 'http://127.0.0.1:8080/backchannel-logout', backchannel_logout_session_required: true });
  const shown = json(await run(['clients', 'show', added.client_id as string, '--json']));
  expect(shown).toMatchObject({ backchannel_logout_uri: 'http://127.0.0.1:8080/backchannel-logout', backchannel_logout_session_required: true });
  const plain = json(await run([...web, '--json']));
  expect(plain).not.toHaveProperty('backchannel_logout_uri');
  expect(plain).not.toHaveProperty('backchannel_logout_session_required');
});

test('an https back-channel URI is accepted with an https issuer', async () => {
  const added = json(await run(['clients', 'add', '--name', 'Prod', '--redirect-uri', 'https://app.example.com/cb', '--backchannel-logout-uri', 'https://app.example.com/bc', '--json'], { ISSUER: 'https://id.example.com' }));
  expect(added.backchannel_logout_uri).toBe('https://app.example.com/bc');
});

test('clients update sets, changes and removes the back-channel logout URI and the sid requirement', async () => {
  const id = json(await run([...web, '--json'])).client_id as string;
  const set = json(await run(['clients', 'update', id, '--backchannel-logout-uri', 'http://127.0.0.1:8080/bc', '--backchannel-logout-session-required', '--json']));
  expect(set).toMatchObject({ backchannel_logout_uri: 'http://127.0.0.1:8080/bc', backchannel_logout_session_required: true });
  const text = await run(['clients', 'update', id, '--no-backchannel-logout-session-required']);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/logout tokens need not carry sid/);
  const shown = json(await run(['clients', 'show', id, '--json']));
  expect(shown.backchannel_logout_uri).toBe('http://127.0.0.1:8080/bc');
  expect(shown).not.toHaveProperty('backchannel_logout_session_required');

  // refused changes leave the client as it was
  const bad = await run(['clients', 'update', id, '--backchannel-logout-uri', 'http://127.0.0.1:8080/bc#frag']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/fragment/);
  const both = await run(['clients', 'update', id, '--backchannel-logout-uri', 'http://127.0.0.1:8080/x', '--no-backchannel-logout-uri']);
  expect(both.code).toBe(2);
  expect(both.stderr).toMatch(/contradict/);
  expect(json(await run(['clients', 'show', id, '--json'])).backchannel_logout_uri).toBe('http://127.0.0.1:8080/bc');

  await run(['clients', 'update', id, '--backchannel-logout-session-required']);
  const removed = json(await run(['clients', 'update', id, '--no-backchannel-logout-uri', '--json']));
  expect(removed).not.toHaveProperty('backchannel_logout_uri');
  expect(removed).not.toHaveProperty('backchannel_logout_session_required');
});
