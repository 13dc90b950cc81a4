/**
 * The real `idport` command line (bin/idport.js → dist/cli), run as a child process against a
 * temp SQLite store, and alongside a running server on the same store.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';

import { createAccountService } from '../../src/accounts/account-service.js';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/storage/open-store.js';
import { discover, loginAndRedeem } from '../helpers/flow.js';
import { cli, cliProcess, killChildren, type Run } from '../helpers/cli.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

/** stdout must be exactly one JSON object on one line. */
function oneJson(run: Run): Record<string, unknown> {
  expect({ code: run.code, stderr: stackLines(run.stderr) }).toEqual({ code: 0, stderr: [] });
  expect(run.stdout.endsWith('\n')).toBe(true);
  expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
  const value: unknown = JSON.parse(run.stdout);
  expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
  return value as Record<string, unknown>;
}

const stackLines = (text: string) => text.split('\n').filter((l) => /^\s{4}at /.test(l));

/** A failed command: non-zero exit, a message on stderr, no stack trace, nothing on stdout. */
function expectFailure(run: Run, message: RegExp, code?: number) {
  if (code === undefined) expect(run.code).not.toBe(0);
  else expect(run.code).toBe(code);
  expect(run.code).not.toBeNull();
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^idport: /m);
  expect(run.stderr).toMatch(message);
  expect(stackLines(run.stderr)).toEqual([]);
}

/** Every key anywhere in a JSON value. */
function allKeys(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) allKeys(v, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      allKeys(v, out);
    }
  }
  return out;
}

afterAll(killChildren);

describe('idport CLI on its own store', () => {
  const dir = tempDir();
  const db = `sqlite:${join(dir, 'idport.db')}`;
  const run = (args: string[], input?: string) => cli(db, args, input);
  /** the real binary (a child process): stdin, exit status and streams as a shell sees them */
  const runBinary = (args: string[], input?: string) => cliProcess(db, args, input);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('users', () => {
    let aliceSub: string;

    test('users add --json prints one JSON object with the public fields and no password hash', async () => {
      const r = await run(['users', 'add', '--username', 'alice', '--password', 'correct horse battery', '--email', 'a@example.com', '--name', 'Alice', '--json']);
      const user = oneJson(r);
      expect(user).toMatchObject({ username: 'alice', email: 'a@example.com', name: 'Alice', email_verified: false });
      expect(typeof user.sub).toBe('string');
      expect((user.sub as string).length).toBeGreaterThan(0);
      const keys = [...allKeys(user)].map((k) => k.toLowerCase());
      expect(keys.filter((k) => k.includes('password') || k.includes('hash'))).toEqual([]);
      expect(r.stdout).not.toContain('$argon2');
      expect(r.stdout).not.toContain('correct horse battery');
      aliceSub = user.sub as string;
    });

    test('users list --json and users show (by username, email and sub)', async () => {
      const list = oneJson(await run(['users', 'list', '--json']));
      expect(list.users).toEqual([expect.objectContaining({ sub: aliceSub, username: 'alice', email: 'a@example.com' })]);
      expect(JSON.stringify(list)).not.toContain('$argon2');

      for (const ref of ['alice', 'A@Example.com', aliceSub]) {
        const shown = oneJson(await run(['users', 'show', ref, '--json']));
        expect(shown).toMatchObject({ sub: aliceSub, username: 'alice', email: 'a@example.com', name: 'Alice' });
        expect(JSON.stringify(shown)).not.toContain('$argon2');
      }
      expectFailure(await run(['users', 'show', 'nobody', '--json']), /no user "nobody"/);
    });

    test('a duplicate username (any case) is refused without a stack trace', async () => {
      const r = await run(['users', 'add', '--username', 'ALICE', '--password', 'correct horse battery', '--json']);
      expectFailure(r, /username is already taken/);
    });

    test('a duplicate email (any case) is refused without a stack trace', async () => {
      const r = await run(['users', 'add', '--username', 'bob', '--password', 'correct horse battery', '--email', 'A@EXAMPLE.COM', '--json']);
      expectFailure(r, /email is already taken/);
      const list = oneJson(await run(['users', 'list', '--json']));
      expect((list.users as unknown[]).length).toBe(1);
    });

    test('a password shorter than 8 characters is refused with the reason', async () => {
      const r = await run(['users', 'add', '--username', 'bob', '--password', 'short', '--json']);
      expectFailure(r, /password must be at least 8 characters/);
      expectFailure(await run(['users', 'show', 'bob']), /no user "bob"/);
    });

    test('--password-stdin reads the password from stdin (the binary, fed through a pipe)', async () => {
      const added = oneJson(await runBinary(['users', 'add', '--username', 'carol', '--password-stdin', '--json'], 'from stdin, long enough\n'));
      expect(added).toMatchObject({ username: 'carol', email: null });

      const store = await openStore(db);
      try {
        const accounts = createAccountService(store);
        expect((await accounts.authenticate('carol', 'from stdin, long enough'))?.id).toBe(added.sub);
        // the trailing newline is not part of the password
        expect(await accounts.authenticate('carol', 'from stdin, long enough\n')).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    test('users set-password changes the password (and applies the same policy)', async () => {
      expectFailure(await run(['users', 'set-password', 'alice', '--password', 'tiny']), /at least 8 characters/);

      const r = await run(['users', 'set-password', 'alice', '--password', 'a brand new passphrase']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('alice');
      expect(stackLines(r.stderr)).toEqual([]);

      const viaStdin = await run(['users', 'set-password', 'carol', '--password-stdin', '--json'], 'carol new passphrase\n');
      expect(oneJson(viaStdin)).toMatchObject({ updated: true, username: 'carol' });

      const store = await openStore(db);
      try {
        const accounts = createAccountService(store);
        expect(await accounts.authenticate('alice', 'correct horse battery')).toBeUndefined();
        expect((await accounts.authenticate('alice', 'a brand new passphrase'))?.id).toBe(aliceSub);
        expect(await accounts.authenticate('carol', 'carol new passphrase')).toBeDefined();
      } finally {
        await store.close();
      }
    });

    test('users remove deletes the user', async () => {
      const r = await run(['users', 'remove', 'alice']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('alice');
      expectFailure(await run(['users', 'show', 'alice']), /no user "alice"/);
      const list = oneJson(await run(['users', 'list', '--json']));
      expect((list.users as { username: string }[]).map((u) => u.username)).toEqual(['carol']);
      expectFailure(await run(['users', 'remove', 'alice']), /no user "alice"/);
    });
  });

  describe('clients', () => {
    let confidential: Record<string, unknown>;
    let publicClient: Record<string, unknown>;
    let machine: Record<string, unknown>;

    test('clients add --json prints one object with client_id and client_secret; code + refresh by default', async () => {
      confidential = oneJson(await run(['clients', 'add', '--name', 'App', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--json']));
      expect(confidential).toMatchObject({
        client_name: 'App',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1:8080/cb'],
      });
      expect(typeof confidential.client_id).toBe('string');
      expect(typeof confidential.client_secret).toBe('string');
      expect((confidential.client_secret as string).length).toBeGreaterThanOrEqual(32);
      expect(confidential.token_endpoint_auth_method ?? 'client_secret_basic').not.toBe('none');
    });

    test('--public makes a client with token_endpoint_auth_method none and no secret', async () => {
      publicClient = oneJson(await run(['clients', 'add', '--name', 'SPA', '--public', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--json']));
      expect(publicClient).toMatchObject({ token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
      expect(publicClient).not.toHaveProperty('client_secret');
    });

    test('--grant-type client_credentials alone makes a machine client with no redirect URIs', async () => {
      machine = oneJson(await run(['clients', 'add', '--name', 'Batch job', '--grant-type', 'client_credentials', '--json']));
      expect(machine).toMatchObject({ grant_types: ['client_credentials'], redirect_uris: [], response_types: [] });
      expect(typeof machine.client_secret).toBe('string');
    });

    test('clients list --json never includes a client_secret', async () => {
      const r = await run(['clients', 'list', '--json']);
      const list = oneJson(r);
      const rows = list.clients as Record<string, unknown>[];
      expect(rows.map((c) => c.client_id).sort()).toEqual([confidential.client_id, publicClient.client_id, machine.client_id].sort());
      expect(allKeys(list).has('client_secret')).toBe(false);
      expect(r.stdout).not.toContain(confidential.client_secret as string);
      expect(r.stdout).not.toContain(machine.client_secret as string);
      const byId = new Map(rows.map((c) => [c.client_id, c]));
      expect(byId.get(confidential.client_id)).toMatchObject({ public: false, has_secret: true });
      expect(byId.get(publicClient.client_id)).toMatchObject({ public: true, has_secret: false });

      const text = await run(['clients', 'list']);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(confidential.client_id as string);
      expect(text.stdout).not.toContain(confidential.client_secret as string);
    });

    test('clients show ID --json shows the metadata without the secret', async () => {
      const r = await run(['clients', 'show', confidential.client_id as string, '--json']);
      const shown = oneJson(r);
      expect(shown).toMatchObject({ client_id: confidential.client_id, client_name: 'App', redirect_uris: ['http://127.0.0.1:8080/cb'], has_secret: true });
      expect(shown).not.toHaveProperty('client_secret');
      expect(r.stdout).not.toContain(confidential.client_secret as string);
      expectFailure(await run(['clients', 'show', 'no-such-client', '--json']), /no client "no-such-client"/);
    });

    test('clients remove ID deletes it', async () => {
      const r = await run(['clients', 'remove', machine.client_id as string]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(machine.client_id as string);
      expectFailure(await run(['clients', 'show', machine.client_id as string]), /no client/);
      const list = oneJson(await run(['clients', 'list', '--json']));
      expect((list.clients as unknown[]).length).toBe(2);
      expectFailure(await run(['clients', 'remove', machine.client_id as string]), /no client/);
    });

    test.each([
      ['a redirect URI with a fragment', ['--name', 'X', '--redirect-uri', 'http://127.0.0.1/cb#x'], /invalid client: .*fragment/],
      ['a javascript: redirect URI', ['--name', 'X', '--redirect-uri', 'javascript:alert(1)'], /invalid client: .*redirect_uris/],
      ['a missing --name', ['--redirect-uri', 'http://127.0.0.1/cb'], /--name is required/],
      ['--grant-type implicit', ['--name', 'X', '--grant-type', 'implicit', '--redirect-uri', 'http://127.0.0.1/cb'], /--grant-type implicit is not supported/],
      ['an interactive client without a redirect URI', ['--name', 'X'], /--redirect-uri is required/],
      ['a public client_credentials client', ['--name', 'X', '--public', '--grant-type', 'client_credentials'], /--public/],
    ])('refuses %s with a clear message and stores nothing', async (_what, args, message) => {
      const r = await run(['clients', 'add', ...args, '--json']);
      expectFailure(r, message);
      const list = oneJson(await run(['clients', 'list', '--json']));
      expect((list.clients as unknown[]).length).toBe(2);
    });
  });

  describe('keys', () => {
    type KeyRow = { kid: string; alg: string; status: string; retired_at: string | null; published_until: string | null };
    let first: KeyRow[];

    test('keys list --json shows an active RS256 and ES256 key and no private material', async () => {
      const r = await run(['keys', 'list', '--json']);
      const list = oneJson(r);
      first = list.keys as KeyRow[];
      const active = first.filter((k) => k.status === 'active');
      expect(active.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      expect(first).toHaveLength(2);
      for (const k of first) expect(k.published_until).toBeNull();
      const keys = allKeys(list);
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(keys.has(secret)).toBe(false);
      expect(r.stdout).not.toMatch(/"d"\s*:/);
    });

    test('keys rotate --json makes new active keys; the old ones stay published as retired', async () => {
      const before = Date.now();
      const rotated = oneJson(await run(['keys', 'rotate', '--json']));
      const fresh = rotated.rotated as { kid: string; alg: string }[];
      expect(fresh.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      expect(typeof rotated.old_keys_published_for_seconds).toBe('number');
      const keep = rotated.old_keys_published_for_seconds as number;
      expect(keep).toBeGreaterThan(0);

      const r = await run(['keys', 'list', '--json']);
      const after = (oneJson(r).keys as KeyRow[]);
      expect(r.stdout).not.toMatch(/"d"\s*:/);
      const active = after.filter((k) => k.status === 'active');
      const retired = after.filter((k) => k.status === 'retired');
      expect(active.map((k) => k.kid).sort()).toEqual(fresh.map((k) => k.kid).sort());
      expect(retired.map((k) => k.kid).sort()).toEqual(first.map((k) => k.kid).sort());
      for (const k of active) expect(first.map((f) => f.kid)).not.toContain(k.kid);
      for (const k of retired) {
        expect(k.retired_at).not.toBeNull();
        expect(k.published_until).not.toBeNull();
        const until = Date.parse(k.published_until!);
        expect(until).toBeGreaterThan(Date.now());
        expect(until).toBeGreaterThanOrEqual(before + keep * 1000 - 1000);
        expect(until).toBeLessThanOrEqual(Date.now() + keep * 1000 + 1000);
      }
    });

    test('keys rotate --cookies keeps the old cookie key verifying for the session lifetime', async () => {
      const rotated = oneJson(await run(['keys', 'rotate', '--cookies', '--json']));
      expect((rotated.rotated as unknown[]).length).toBe(2);
      const store = await openStore(db);
      try {
        const cookieKeys = await store.keys.list('cookie');
        const active = cookieKeys.filter((k) => k.retiredAt === null);
        const retired = cookieKeys.filter((k) => k.retiredAt !== null);
        expect(active).toHaveLength(1);
        expect(retired).toHaveLength(1);
        // Sessions (ttl.session, 14 days by default) were signed with the old key; it must keep
        // verifying them that long, or `keys rotate --cookies` signs everyone out after ~1 hour.
        const sessionSeconds = loadConfig({}).ttl.session;
        expect(retired[0]!.expiresAt).not.toBeNull();
        expect(retired[0]!.expiresAt!).toBeGreaterThanOrEqual(Date.now() + sessionSeconds * 1000 - 60_000);
      } finally {
        await store.close();
      }
    });
  });

  describe('usage errors', () => {
    test('an unknown command exits 2 with a usage hint on stderr (the binary)', async () => {
      const r = await runBinary(['frobnicate']);
      expectFailure(r, /unknown command "frobnicate"/, 2);
      expect(r.stderr).toMatch(/idport help/);
    });

    test('an unknown verb exits 2 with a usage hint on stderr', async () => {
      const r = await run(['users', 'frobnicate']);
      expectFailure(r, /unknown command "users frobnicate"/, 2);
      expect(r.stderr).toMatch(/idport help/);
    });

    test('an unknown option exits 2 with a usage hint on stderr', async () => {
      const r = await run(['users', 'list', '--frobnicate']);
      expectFailure(r, /--frobnicate/, 2);
      expect(r.stderr).toMatch(/idport help/);
    });

    test('help prints usage and exits 0 (the binary)', async () => {
      const r = await runBinary(['help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^usage: idport/);
    });
  });
});

describe('idport CLI while a server runs on the same store', () => {
  let server: TestServer;
  let db: string;
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

  beforeAll(async () => {
    server = await startTestServer({ keys: { refreshSeconds: 1 } });
    db = `sqlite:${join(server.dir, 'idport.db')}`;
  });
  afterAll(() => server?.stop());

  const authorizeUrl = (clientId: string) => {
    const url = new URL(`${server.url}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:8080/callback',
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'some-state',
    }).toString();
    return url;
  };

  test('a client added by the CLI is accepted at once; a removed one is refused within the cache staleness bound', async () => {
    const unknown = await fetch(authorizeUrl('not-registered'), { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('content-type')).toMatch(/text\/html/);
    await unknown.text();

    const added = oneJson(await cli(db, ['clients', 'add', '--name', 'Live app', '--redirect-uri', 'http://127.0.0.1:8080/callback', '--json']));
    const clientId = added.client_id as string;

    const res = await fetch(authorizeUrl(clientId), { redirect: 'manual', headers: { accept: 'text/html' } });
    await res.text();
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location')!, server.url).pathname).toMatch(/^\/interaction\/[^/]+$/);

    const removed = await cli(db, ['clients', 'remove', clientId]);
    expect(removed.code).toBe(0);
    const gone = await fetch(authorizeUrl(clientId), { redirect: 'manual', headers: { accept: 'text/html' } });
    await gone.text();
    expect(gone.status).toBe(400);
  });

  test('a user and client made by the CLI complete a full code flow on the running server', async () => {
    oneJson(await cli(db, ['users', 'add', '--username', 'dave', '--password', 'dave has a long password', '--email', 'dave@example.com', '--json']));
    const client = oneJson(await cli(db, ['clients', 'add', '--name', 'Flow app', '--redirect-uri', 'http://127.0.0.1:8080/callback', '--json']));

    const config = await discover(server.url, client.client_id as string, client.client_secret as string);
    const { tokens } = await loginAndRedeem(config, server.url, { user: { username: 'dave', password: 'dave has a long password' }, scope: 'openid email' });
    expect(tokens.id_token).toBeTruthy();
    const sub = tokens.claims()!.sub;
    const info = await oidc.fetchUserInfo(config, tokens.access_token, sub);
    expect(info).toMatchObject({ sub, email: 'dave@example.com' });
  });

  test('keys rotate via the CLI is picked up by the running server (keys.refreshSeconds)', async () => {
    const rotated = oneJson(await cli(db, ['keys', 'rotate', '--json']));
    const fresh = (rotated.rotated as { kid: string }[]).map((k) => k.kid);
    const deadline = Date.now() + 8000;
    let kids: string[] = [];
    while (Date.now() < deadline) {
      const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string; d?: unknown }[] };
      kids = jwks.keys.map((k) => k.kid);
      expect(jwks.keys.some((k) => 'd' in k)).toBe(false);
      if (fresh.every((kid) => kids.includes(kid))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(kids).toEqual(expect.arrayContaining(fresh));
  });
});
