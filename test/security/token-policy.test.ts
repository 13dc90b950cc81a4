/**
 * Tokens only for what a client may have: access tokens only for the client's own API or one it
 * shares a registered scope with, never with an empty scope; the claims request parameter cannot
 * reach past the client's scopes; operators cannot set claims idport vouches for itself.
 */
import { join } from 'node:path';
import { decodeJwt } from 'jose';

import { accountClaims } from '../../src/accounts/account-service.js';
import { cli, killChildren } from '../helpers/cli.js';
import {
  addClient,
  afterEachHealthy,
  CALLBACK,
  expectBackAtClient,
  freshCode,
  get,
  openConsent,
  postInteraction,
  redeem,
  setup,
  tokenRequest,
  type Client,
  type Env,
} from './helpers.js';

const things = 'https://things.example.com';
const bare = 'https://bare.example.com';
let env: Env;

beforeAll(async () => {
  env = await setup();
  await env.server.store.apis.upsert({ audience: things, name: 'Things API', scopes: ['read:things', 'write:things'], tokenFormat: 'jwt', accessTokenTtl: null });
  await env.server.store.apis.upsert({ audience: bare, name: 'Bare API', scopes: [], tokenFormat: 'jwt', accessTokenTtl: null });
});
afterAll(async () => {
  killChildren();
  await env.server.stop();
});
afterEachHealthy(() => [env?.server]);

const machine = (extra: Record<string, unknown> = {}) =>
  addClient(env.server.store, { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], ...extra });

const clientCredentials = (client: Client, body: Record<string, string>) =>
  tokenRequest(env, { grant_type: 'client_credentials', ...body }, { id: client.client_id, secret: client.client_secret });

describe('access tokens only for APIs the client may use', () => {
  test('client_credentials with resource=<API> from a client registered with no API → 400 invalid_target', async () => {
    const client = await machine();
    const res = await clientCredentials(client, { resource: things });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_target']);
    expect(res.body.access_token).toBeUndefined();
    const scoped = await clientCredentials(client, { resource: things, scope: 'read:things' });
    expect([scoped.status, scoped.body.error]).toEqual([400, 'invalid_target']);
  });

  test('a client whose API scopes belong to another API cannot get tokens for this one', async () => {
    const client = await machine({ api_scopes: ['read:other'] });
    const res = await clientCredentials(client, { resource: things, scope: 'read:things' });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_target']);
  });

  test('the code flow with resource=<API> from a client registered with no API → invalid_target back at the client, no code', async () => {
    const res = await get(new URL(`${env.url}/auth?${new URLSearchParams({
      client_id: env.client.client_id,
      response_type: 'code',
      scope: 'openid read:things',
      redirect_uri: CALLBACK,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 's1',
      resource: things,
    })}`));
    const params = expectBackAtClient(res);
    expect(params.get('error')).toBe('invalid_target');
    expect(params.get('code')).toBeNull();
  });

  test('never a token for an API with an empty scope: the client\'s --audience API granting no scope → 400 invalid_target', async () => {
    const client = await machine({ default_audience: bare });
    const res = await clientCredentials(client, {});
    expect([res.status, res.body.error]).toEqual([400, 'invalid_target']);
    const named = await clientCredentials(client, { resource: bare });
    expect([named.status, named.body.error]).toEqual([400, 'invalid_target']);
  });

  test('an allowed client naming no scope gets its registered scopes at the API, and only those', async () => {
    const client = await machine({ default_audience: things, api_scopes: ['read:things'] });
    const res = await clientCredentials(client, {});
    expect(res.status).toBe(200);
    const claims = decodeJwt(res.body.access_token as string);
    expect(claims).toMatchObject({ aud: things, scope: 'read:things', client_id: client.client_id });
    const asked = await clientCredentials(client, { scope: 'read:things write:things' });
    expect(decodeJwt(asked.body.access_token as string).scope).toBe('read:things');
  });

  test('a sign-in asking only OpenID scopes by a client with an --audience gets a userinfo token, not an API token without scope', async () => {
    const client = await addClient(env.server.store, { redirect_uris: [CALLBACK], default_audience: things, api_scopes: ['read:things'] });
    const { code, verifier } = await freshCode(env, { scope: 'openid email' }, client as Client);
    const res = await redeem(env, code, verifier, client as Client);
    expect(res.status).toBe(200);
    const me = await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${String(res.body.access_token)}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe('Alice@Example.com');
  });

  test('the consent page names the API and the scopes asked there', async () => {
    const client = await addClient(env.server.store, { redirect_uris: [CALLBACK], api_scopes: ['read:things'] });
    const page = await openConsent(env, { scope: 'openid read:things', resource: things }, client as Client);
    expect(page.html).toContain('Access Things API');
    expect(page.html).toContain('<code>read:things</code>');
  });
});

describe('claims only within the client\'s scopes', () => {
  const claimsParam = JSON.stringify({ id_token: { email: null, name: null }, userinfo: { email: null, name: null, email_verified: null } });

  async function signInFor(client: Client) {
    const page = await openConsent(env, { claims: claimsParam }, client);
    const consent = await postInteraction(env, page, 'consent', { csrf: page.csrf });
    const step = await page.ua.follow(new URL(`/interaction/${page.uid}/consent`, env.url), env.url, consent);
    const code = step.left!.searchParams.get('code')!;
    return { page, code };
  }

  test('a client limited to --scope openid asking claims={email,name} gets neither in the ID token nor at userinfo, and the consent page does not offer them', async () => {
    const client = (await addClient(env.server.store, { redirect_uris: [CALLBACK], scope: 'openid' })) as Client;
    const { code: probe, verifier } = await freshCode(env, { claims: claimsParam }, client);
    const res = await redeem(env, probe, verifier, client);
    expect(res.status).toBe(200);
    const idToken = decodeJwt(res.body.id_token as string);
    expect(idToken).not.toHaveProperty('email');
    expect(idToken).not.toHaveProperty('name');
    const me = (await (await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${String(res.body.access_token)}` } })).json()) as Record<string, unknown>;
    expect(Object.keys(me)).toEqual(['sub']);
    const { page } = await signInFor(client);
    expect(page.html).not.toMatch(/It also asks for:.*(email|name)/);
  });

  test('a client with --scope "openid email" asking claims={email,name} gets email (its scope covers it), never name', async () => {
    const client = (await addClient(env.server.store, { redirect_uris: [CALLBACK], scope: 'openid email' })) as Client;
    const { code, verifier } = await freshCode(env, { claims: claimsParam }, client);
    const res = await redeem(env, code, verifier, client);
    const idToken = decodeJwt(res.body.id_token as string);
    expect(idToken.email).toBe('Alice@Example.com');
    expect(idToken).not.toHaveProperty('name');
    const me = (await (await fetch(`${env.url}/me`, { headers: { authorization: `Bearer ${String(res.body.access_token)}` } })).json()) as Record<string, unknown>;
    expect(me).toEqual({ sub: expect.any(String), email: 'Alice@Example.com', email_verified: true });
  });

  test('/account shows the claims each app was given', async () => {
    const client = (await addClient(env.server.store, { client_name: 'Mailer', redirect_uris: [CALLBACK], scope: 'openid email' })) as Client;
    const { ua } = await freshCode(env, { scope: 'openid email', claims: claimsParam }, client);
    const res = await ua.request(`${env.url}/account`);
    const html = await res.text();
    expect(res.status).toBe(200);
    const mailer = html.slice(html.indexOf('<strong>Mailer</strong>'));
    expect(mailer.slice(0, mailer.indexOf('</li>'))).toMatch(/Sees: email, email_verified/);
  });
});

describe('operators cannot set claims idport vouches for', () => {
  const db = () => `sqlite:${join(env.server.dir, 'idport.db')}`;

  test.each([
    ['email_verified', '{"email_verified":true}'],
    ['email', '{"email":"victim@example.com"}'],
    ['phone_number_verified', '{"phone_number":"+15550100","phone_number_verified":true}'],
    ['sub', '{"sub":"someone-else"}'],
  ])('users add --claims with %s is refused (exit 1), nothing stored', async (name, claims) => {
    const username = `mallory-${name.replace(/_/g, '-')}`;
    const run = await cli(db(), ['users', 'add', '--username', username, '--password', 'mallory long passphrase', '--claims', claims]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`claim "${name}" is set by idport itself`);
    expect(await env.server.store.accounts.findByLogin(username)).toBeUndefined();
  });

  test('a claim idport does not release (is_admin) is refused too; standard claims are fine', async () => {
    const refused = await cli(db(), ['users', 'add', '--username', 'mallory-admin', '--password', 'mallory long passphrase', '--claims', '{"is_admin":true}']);
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining('claim "is_admin" is not a standard claim')]);
    const ok = await cli(db(), ['users', 'add', '--username', 'grace', '--password', 'grace long passphrase', '--claims', '{"given_name":"Grace","address":{"country":"KR"}}']);
    expect(ok.code).toBe(0);
  });

  test('reserved claims stored before this check (written straight to the store) are never released', () => {
    const released = accountClaims({
      id: 'sub-1',
      username: 'old',
      email: null,
      emailVerified: false,
      name: null,
      passwordHash: 'x',
      claims: { email: 'victim@example.com', email_verified: true, phone_number_verified: true, sub: 'victim', given_name: 'Old' },
      createdAt: 0,
      updatedAt: 0,
    });
    expect(released).toEqual({ sub: 'sub-1', preferred_username: 'old', given_name: 'Old', updated_at: 0 });
  });
});
