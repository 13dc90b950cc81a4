import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Auth } from '@auth/core';
import * as oidc from 'openid-client';

import { addClient, addUser, alice, discover, loginAndRedeem, signInThroughPages } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { UserAgent } from '../helpers/user-agent.js';

/**
 * Auth.js (@auth/core) with the generic OIDC provider exactly as its docs write it
 * (`{ type: 'oidc', issuer, clientId, clientSecret }`), served over real HTTP. Auth.js takes the
 * user's profile from the ID token only, so what idport puts there is what the app's session shows.
 */
interface AuthJsSite {
  url: string;
  close(): Promise<void>;
}

async function startAuthJsSite(issuer: string, clientId: string, clientSecret: string): Promise<AuthJsSite> {
  const config = {
    providers: [{ id: 'idport', name: 'idport', type: 'oidc' as const, issuer, clientId, clientSecret }],
    secret: 'an-authjs-secret-for-tests-only-0123456789abcdef',
    trustHost: true,
    basePath: '/auth',
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const request = new Request(new URL(req.url!, `http://${req.headers.host}`), { method: req.method, headers, body });
      Auth(request, config).then(
        async (response) => {
          const out: Record<string, string | string[]> = {};
          response.headers.forEach((value, name) => {
            if (name !== 'set-cookie') out[name] = value;
          });
          const cookies = response.headers.getSetCookie();
          if (cookies.length) out['set-cookie'] = cookies;
          res.writeHead(response.status, out).end(Buffer.from(await response.arrayBuffer()));
        },
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Signs alice in to the Auth.js site through idport's pages; returns the site's session JSON. */
async function signInWithAuthJs(site: AuthJsSite, issuer: string): Promise<{ user?: { name?: string | null; email?: string | null } }> {
  const ua = new UserAgent();
  const csrf = (await (await ua.request(`${site.url}/auth/csrf`, { headers: { accept: 'application/json' } })).json()) as { csrfToken: string };
  const start = await ua.postForm(`${site.url}/auth/signin/idport`, { csrfToken: csrf.csrfToken, callbackUrl: `${site.url}/` });
  expect(start.status).toBe(302);
  const authorization = new URL(start.headers.get('location')!);
  expect(authorization.href.startsWith(issuer)).toBe(true);
  const callback = await signInThroughPages(ua, authorization, issuer);
  expect(callback.origin).toBe(site.url);
  const done = await ua.request(callback);
  expect(done.status).toBe(302);
  expect(done.headers.get('location')).toBe(`${site.url}/`);
  const session = await ua.request(`${site.url}/auth/session`, { headers: { accept: 'application/json' } });
  expect(session.status).toBe(200);
  return (await session.json()) as { user?: { name?: string | null; email?: string | null } };
}

async function withSite(server: TestServer, run: (site: AuthJsSite) => Promise<void>) {
  // Auth.js's redirect URI is {origin}{basePath}/callback/{provider id}: register it once the port is known.
  const client = await addClient(server.store, { redirect_uris: ['http://127.0.0.1:1/placeholder'] });
  const site = await startAuthJsSite(server.url, client.client_id, client.client_secret);
  try {
    await server.store.clients.upsert({ ...client, redirect_uris: [`${site.url}/auth/callback/idport`] } as never);
    await run(site);
  } finally {
    await site.close();
  }
}

describe('Auth.js generic OIDC provider', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await addUser(server.store);
  });
  afterAll(() => server.stop());

  it("shows the user's name and email in its session (claims in the ID token by default)", async () => {
    await withSite(server, async (site) => {
      const session = await signInWithAuthJs(site, server.url);
      // Auth.js writes the address in lower case (its default profile); idport's ID token keeps it as stored
      expect(session.user).toMatchObject({ name: alice.name, email: alice.email.toLowerCase() });
    });
  });

  it('gets ID tokens with only the granted scopes\' claims: openid alone carries no profile or email', async () => {
    const client = await addClient(server.store);
    const config = await discover(server.url, client.client_id, client.client_secret);
    const full = (await loginAndRedeem(config, server.url)).tokens.claims()!;
    expect(full).toMatchObject({ name: alice.name, email: alice.email, email_verified: true });
    const bare = (await loginAndRedeem(config, server.url, { scope: 'openid' })).tokens.claims()!;
    expect(bare.name).toBeUndefined();
    expect(bare.email).toBeUndefined();
    expect(bare.email_verified).toBeUndefined();
  });
});

describe('scopeClaimsInIdToken: false (OpenID Connect Core §5.4 strictly)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ scopeClaimsInIdToken: false });
    await addUser(server.store);
  });
  afterAll(() => server.stop());

  it('keeps the claims at userinfo only, so Auth.js gets an empty profile', async () => {
    await withSite(server, async (site) => {
      const session = await signInWithAuthJs(site, server.url);
      expect(session.user?.name ?? undefined).toBeUndefined();
      expect(session.user?.email ?? undefined).toBeUndefined();
    });
    const client = await addClient(server.store);
    const config = await discover(server.url, client.client_id, client.client_secret);
    const { tokens } = await loginAndRedeem(config, server.url);
    expect(tokens.claims()!.email).toBeUndefined();
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ name: alice.name, email: alice.email });
  });
});
