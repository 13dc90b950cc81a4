/**
 * The served OpenAPI document matches the code: a typed client generated from it (openapi-typescript
 * + openapi-fetch) compiles, drives the admin API, and a request the document does not allow
 * does not compile.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as oidc from 'openid-client';

import { addClient, discover } from '../helpers/flow.js';
import { root } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

let server: TestServer;
let dir: string;

const driver = `import createClient from 'openapi-fetch';
import type { paths } from './schema.js';

const [baseUrl, token] = process.argv.slice(2) as [string, string];
const client = createClient<paths>({ baseUrl, headers: { authorization: 'Bearer ' + token } });
const created = await client.POST('/users', { body: { username: 'typed', password: 'typed client passphrase', email: 'typed@example.com' } });
if (!created.data) throw new Error('create failed: ' + JSON.stringify(created.error));
const sub: string = created.data.sub;
const read = await client.GET('/users/{id}', { params: { path: { id: sub } } });
const page = await client.GET('/users', { params: { query: { limit: 10, q: 'typed' } } });
const missing = await client.GET('/users/{id}', { params: { path: { id: 'nobody' } } });
const factors = await client.GET('/users/{id}/factors', { params: { path: { id: sub } } });
const sessions = await client.GET('/users/{id}/sessions', { params: { path: { id: sub } } });
const ended = await client.DELETE('/users/{id}/sessions', { params: { path: { id: sub } } });
const noFactor = await client.DELETE('/users/{id}/factors/{factorId}', { params: { path: { id: sub, factorId: 'totp' } } });
console.log(JSON.stringify({
  sub, username: read.data?.username, listed: page.data?.items.length, missingStatus: missing.response.status, problemTitle: missing.error?.title,
  passkeys: factors.data?.passkeys.length, app: factors.data?.authenticator_app, sessions: sessions.data?.items.length,
  sessionsEnded: ended.data?.sessions_ended, noFactorStatus: noFactor.response.status,
}));
`;

const wrongDriver = `import createClient from 'openapi-fetch';
import type { paths } from './schema.js';
const client = createClient<paths>({ baseUrl: 'http://x' });
await client.POST('/users', { body: { user_name: 'typed' } });
`;

const tsconfig = {
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', rootDir: '.' },
  files: ['driver.ts', 'schema.d.ts'],
};

beforeAll(async () => {
  server = await startTestServer();
  // inside node_modules, so the generated code resolves openapi-fetch from this checkout
  mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
  dir = mkdtempSync(join(root, 'node_modules', '.cache', 'idport-typed-client-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
});

test('a client generated from /admin/v1/openapi.json compiles and creates, reads and lists a user, its factors and sessions', async () => {
  await run(bin('openapi-typescript'), [`${server.url}/admin/v1/openapi.json`, '-o', join(dir, 'schema.d.ts')], { cwd: dir });
  writeFileSync(join(dir, 'driver.ts'), driver);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  await run(bin('tsc'), ['-p', dir], { cwd: dir });

  const client = await addClient(server.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], post_logout_redirect_uris: [], api_scopes: ['admin:users:read', 'admin:users:write'] });
  const config = await discover(server.url, client.client_id, client.client_secret);
  const { access_token } = await oidc.clientCredentialsGrant(config, { resource: `${server.url}/admin`, scope: 'admin:users:read admin:users:write' });
  const { stdout } = await run(process.execPath, [join(dir, 'out', 'driver.js'), `${server.url}/admin/v1`, access_token], { cwd: dir });
  const out = JSON.parse(stdout) as Record<string, unknown>;
  expect(out).toMatchObject({ username: 'typed', listed: 1, missingStatus: 404, problemTitle: 'Not Found', passkeys: 0, app: false, sessions: 0, sessionsEnded: 0, noFactorStatus: 404 });
  expect((await server.store.accounts.findByLogin('typed'))?.id).toBe(out.sub);

  // a body the document does not allow is a compile error, so the types above meant something
  writeFileSync(join(dir, 'driver.ts'), wrongDriver);
  const refused = await run(bin('tsc'), ['-p', dir, '--noEmit'], { cwd: dir }).then(
    () => undefined,
    (err: { stdout: string }) => err.stdout,
  );
  expect(refused).toMatch(/user_name|username/);
}, 90_000);
