/**
 * Discovery and the JWKS are served from a copy prepared from oidc-provider's first answer
 * (src/http/prepared-responses.ts): the same bytes and headers as the provider's own answer, an
 * ETag that If-None-Match answers with 304, Cache-Control, and a new copy when the keys change.
 */
import { rotateKeys } from '../../src/keys/key-manager.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });

const headersOf = (res: Response, names: string[]) => Object.fromEntries(names.map((n) => [n, res.headers.get(n)]));

describe.each([
  ['/.well-known/openid-configuration', 'application/json; charset=utf-8', 300],
  ['/jwks', 'application/jwk-set+json; charset=utf-8', 60],
])('%s', (path, type, maxAge) => {
  test('every answer is the provider first answer, byte for byte, with its headers', async () => {
    const first = await get(path);
    const firstBody = await first.text();
    expect(first.status).toBe(200);
    for (let i = 0; i < 3; i += 1) {
      const again = await get(path);
      expect(again.status).toBe(200);
      expect(await again.text()).toBe(firstBody);
      expect(headersOf(again, ['content-type', 'etag', 'cache-control', 'access-control-allow-origin', 'vary'])).toEqual(
        headersOf(first, ['content-type', 'etag', 'cache-control', 'access-control-allow-origin', 'vary']),
      );
    }
    expect(first.headers.get('content-type')).toBe(type);
    expect(first.headers.get('cache-control')).toBe(`public, max-age=${maxAge}`);
    expect(first.headers.get('access-control-allow-origin')).toBe('*');
    expect(first.headers.get('vary')).toMatch(/Origin/);
    expect(first.headers.get('etag')).toMatch(/^"[\w-]{22}"$/);
    // security headers still come from our middleware in front
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    JSON.parse(firstBody);
  });

  test('If-None-Match with the ETag gets 304 and no body; another ETag gets the document', async () => {
    const { headers } = await get(path);
    const etag = headers.get('etag')!;
    const notModified = await get(path, { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    const other = await get(path, { 'if-none-match': '"something-else"' });
    expect(other.status).toBe(200);
    expect((await other.text()).length).toBeGreaterThan(10);
  });

  test('a browser origin is echoed, as oidc-provider does for these public documents', async () => {
    const res = await get(path, { origin: 'https://app.example' });
    await res.text();
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });

  test('HEAD gets the headers without a body; POST is not served from the copy', async () => {
    const head = await fetch(`${server.url}${path}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toMatch(/^"/);
    expect(await head.text()).toBe('');
    const post = await fetch(`${server.url}${path}`, { method: 'POST' });
    await post.text();
    expect(post.status).not.toBe(200);
    expect(post.status).toBeLessThan(500);
  });
});

test('after a key rotation the JWKS copy is made again: new kids, a new ETag', async () => {
  const before = await get('/jwks');
  const beforeKids = ((await before.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const fresh = await rotateKeys(server.store, 3600);
  expect(await server.idport.reloadKeys()).toBe(true);
  const after = await get('/jwks');
  const afterKids = ((await after.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  for (const key of fresh) expect(afterKids).toContain(key.kid);
  for (const kid of beforeKids) expect(afterKids).toContain(kid); // retired keys stay published
  expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  const stale = await get('/jwks', { 'if-none-match': before.headers.get('etag')! });
  expect(stale.status).toBe(200);
  await stale.text();
});
