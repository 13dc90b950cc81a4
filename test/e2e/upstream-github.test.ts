/**
 * Signing in with GitHub (preset github), against a local stand-in of GitHub: node:http on
 * 127.0.0.1 standing in for
 *
 * - https://github.com/login/oauth/authorize (the user is signed in and approves at once: 302 back
 *   to redirect_uri with `code` and `state`, no `iss`; it remembers code_challenge, S256 only),
 * - https://github.com/login/oauth/access_token (POST; client_id and client_secret in the form;
 *   JSON `{access_token, token_type: "bearer", scope}` only when the request says
 *   `Accept: application/json`, else a form-encoded body, as GitHub answers; a bad code or
 *   code_verifier is HTTP 200 with `{error: "bad_verification_code", error_description, error_uri}`),
 * - https://api.github.com/user (`{login, id (a number), node_id, avatar_url, name, email, ...}`,
 *   401 `{message: "Bad credentials"}` without a valid token) and
 * - https://api.github.com/user/emails (`[{email, primary, verified, visibility}]`),
 *
 * with the shapes GitHub's documentation gives ("Authorizing OAuth apps", REST "Users" and
 * "Emails"). Registered as an operator would: preset github, --issuer the stand-in's base URL,
 * --api-url the stand-in's base URL + /api.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createAccountService } from '../../src/accounts/account-service.js';
import { createUpstreamRegistry } from '../../src/upstreams/upstream-registry.js';
import { addClient } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { alertOf, answerAt, atClient, back, expectNobodySignedIn, openLogin, toUpstream, userinfoOf, viaUpstream, type RelyingParty } from '../helpers/upstream-browser.js';

interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  avatar_url: string;
  emails: { email: string; primary: boolean; verified: boolean; visibility: 'public' | 'private' | null }[];
}

interface StandIn {
  url: string;
  clientId: string;
  clientSecret: string;
  /** who approves at /login/oauth/authorize next */
  user: GitHubUser;
  authorizeRequests: URLSearchParams[];
  /** each token request: its form, Accept header, and what the stand-in made of it */
  tokenRequests: { form: URLSearchParams; accept: string | undefined; outcome: 'issued' | 'bad_verification_code' | 'incorrect_client_credentials' }[];
  apiRequests: { path: string; headers: IncomingMessage['headers'] }[];
  issued: string[];
  close(): Promise<void>;
}

async function startGitHubStandIn(): Promise<StandIn> {
  const codes = new Map<string, { challenge: string; redirectUri: string; user: GitHubUser }>();
  const tokens = new Map<string, GitHubUser>();
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const standIn: StandIn = {
    url: '',
    clientId: 'Iv1.0123456789abcdef',
    clientSecret: '0123456789abcdef0123456789abcdef01234567',
    user: { id: 1, login: 'nobody', name: null, avatar_url: '', emails: [] },
    authorizeRequests: [],
    tokenRequests: [],
    apiRequests: [],
    issued: [],
    close: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', standIn.url);
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams;
      standIn.authorizeRequests.push(q);
      const redirectUri = q.get('redirect_uri');
      if (q.get('client_id') !== standIn.clientId || !redirectUri) return json(res, 404, { message: 'Not Found' });
      const back = new URL(redirectUri);
      // a code_challenge must come with S256 (GitHub refuses plain)
      const challenge = q.get('code_challenge');
      if (!challenge || q.get('code_challenge_method') !== 'S256') {
        back.searchParams.set('error', 'invalid_request');
      } else {
        const code = randomBytes(10).toString('hex');
        codes.set(code, { challenge, redirectUri, user: structuredClone(standIn.user) });
        back.searchParams.set('code', code);
      }
      if (q.get('state')) back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      let raw = '';
      for await (const chunk of req) raw += String(chunk);
      const form = new URLSearchParams(raw);
      const accept = req.headers.accept;
      const answer = (body: Record<string, string>) => {
        if (accept?.includes('application/json')) return json(res, 200, body);
        res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
        res.end(new URLSearchParams(body).toString());
      };
      const record = { form, accept, outcome: 'issued' as StandIn['tokenRequests'][number]['outcome'] };
      standIn.tokenRequests.push(record);
      if (form.get('client_id') !== standIn.clientId || form.get('client_secret') !== standIn.clientSecret) {
        record.outcome = 'incorrect_client_credentials';
        return answer({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.', error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials' });
      }
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      if (!grant || grant.redirectUri !== form.get('redirect_uri') || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
        record.outcome = 'bad_verification_code';
        return answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.', error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code' });
      }
      const token = `gho_${randomBytes(18).toString('hex')}`;
      tokens.set(token, grant.user);
      standIn.issued.push(token);
      return answer({ access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/api/')) {
      const path = url.pathname.slice('/api'.length);
      standIn.apiRequests.push({ path, headers: req.headers });
      const user = tokens.get((req.headers.authorization ?? '').replace(/^(Bearer|token) /, ''));
      if (!user) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      if (path === '/user') {
        const publicEmail = user.emails.find((e) => e.visibility === 'public')?.email ?? null;
        return json(res, 200, { login: user.login, id: user.id, node_id: `MDQ6VXNlcj${user.id}`, avatar_url: user.avatar_url, type: 'User', site_admin: false, name: user.name, email: publicEmail, created_at: '2011-01-25T18:44:36Z' });
      }
      if (path === '/user/emails') return json(res, 200, user.emails);
    }
    return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => json(res, 500, { message: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return standIn;
}

let server: TestServer;
let github: StandIn;
let rp: RelyingParty;

beforeAll(async () => {
  github = await startGitHubStandIn();
  server = await startTestServer();
  const client = await addClient(server.store, { first_party: true });
  rp = { url: server.url, client };
  await createUpstreamRegistry(server.store.upstreams, undefined).add({
    id: 'github',
    name: 'GitHub',
    preset: 'github',
    issuer: github.url,
    clientId: github.clientId,
    clientSecret: github.clientSecret,
    settings: { apiUrl: `${github.url}/api` },
    // the most trusting setting: even so, an unverified primary email never links
    linkByVerifiedEmail: true,
  });
});

afterAll(async () => {
  await server?.stop();
  await github?.close();
});

beforeEach(() => {
  github.authorizeRequests.length = 0;
  github.tokenRequests.length = 0;
  github.apiRequests.length = 0;
});

test('a first sign-in makes an account linked to GitHub\'s numeric id, with the primary verified email; PKCE, state and the JSON token answer as GitHub has them', async () => {
  github.user = {
    id: 583231,
    login: 'octocat',
    name: 'The Octocat',
    avatar_url: 'https://avatars.githubusercontent.com/u/583231?v=4',
    emails: [
      { email: 'octocat@old.example', primary: false, verified: true, visibility: null },
      { email: 'Octocat@GitHub.example', primary: true, verified: true, visibility: 'public' },
      { email: 'octo@unverified.example', primary: false, verified: false, visibility: null },
    ],
  };
  const page = await openLogin(rp, 'github');
  const authorize = await toUpstream(page, 'github');
  expect(authorize.origin + authorize.pathname).toBe(`${github.url}/login/oauth/authorize`);
  const answer = await answerAt(authorize);
  const { res } = await back(rp, page, answer);
  const { claims, tokens } = await atClient(rp, page, res);

  // the account: linked by GitHub's id (not the login, which GitHub lets users change and reuses)
  const link = await server.store.upstreamLinks.find('github', '583231');
  expect(link).toBeDefined();
  expect(claims.sub).toBe(link!.accountId);
  const account = await server.store.accounts.findById(link!.accountId);
  expect(account).toMatchObject({ email: 'Octocat@GitHub.example', emailVerified: true, name: 'The Octocat', username: 'Octocat@GitHub.example', passwordHash: '' });
  expect(account!.claims).toMatchObject({ picture: 'https://avatars.githubusercontent.com/u/583231?v=4' });
  expect(claims.amr).toEqual(['fed']);
  expect(await userinfoOf(rp, tokens)).toMatchObject({ sub: claims.sub, email: 'Octocat@GitHub.example', email_verified: true, name: 'The Octocat' });

  // what idport asked GitHub: PKCE S256, a state bound to the interaction, the preset's scope, no sign-ups at GitHub
  const [request] = github.authorizeRequests;
  expect(Object.fromEntries(request!)).toMatchObject({
    client_id: github.clientId,
    redirect_uri: `${server.url}/upstream/github/callback`,
    scope: 'read:user user:email',
    code_challenge_method: 'S256',
    allow_signup: 'false',
  });
  expect(request!.get('code_challenge')).toMatch(/^[\w-]{43}$/);
  expect(request!.get('state')).toMatch(new RegExp(`^${page.uid}\\.[\\w-]{16,}$`));
  expect(answer.searchParams.get('state')).toBe(request!.get('state'));
  // the token request: the verifier that matches the challenge (the stand-in checked it), JSON asked for, the secret in the form
  expect(github.tokenRequests).toHaveLength(1);
  const [token] = github.tokenRequests;
  expect(token!.outcome).toBe('issued');
  expect(token!.accept).toContain('application/json');
  expect(createHash('sha256').update(token!.form.get('code_verifier')!).digest('base64url')).toBe(request!.get('code_challenge'));
  expect(token!.form.get('redirect_uri')).toBe(`${server.url}/upstream/github/callback`);
  // the REST API with the token, as GitHub asks to be called
  expect(github.apiRequests.map((r) => r.path).sort()).toEqual(['/user', '/user/emails']);
  for (const r of github.apiRequests) {
    expect(r.headers.authorization).toBe(`Bearer ${github.issued.at(-1)}`);
    expect(r.headers['user-agent']).toBeTruthy();
    expect(r.headers.accept).toBe('application/vnd.github+json');
  }
  // GitHub's token stays with idport
  expect(JSON.stringify(tokens)).not.toContain(github.issued.at(-1)!);

  // the next sign-in, with a new login name and primary email at GitHub: the same account
  github.user = { ...github.user, login: 'octocat-renamed', emails: [{ email: 'new@github.example', primary: true, verified: true, visibility: null }] };
  const again = await openLogin(rp, 'github');
  const second = await atClient(rp, again, await viaUpstream(rp, again, 'github'));
  expect(second.claims.sub).toBe(link!.accountId);
});

test('a primary email GitHub has not verified gives the account no email, and never links to the account that has it', async () => {
  const carol = await createAccountService(server.store).create({ username: 'carol', password: 'a long password for carol', email: 'carol@example.com', emailVerified: true });
  github.user = {
    id: 9_000_001,
    login: 'not-carol',
    name: 'Not Carol',
    avatar_url: 'https://avatars.githubusercontent.com/u/9000001?v=4',
    emails: [
      { email: 'CAROL@example.com', primary: true, verified: false, visibility: 'public' },
      // verified, but not the primary: not taken either
      { email: 'other@example.com', primary: false, verified: true, visibility: null },
    ],
  };
  const page = await openLogin(rp, 'github');
  const { claims, tokens } = await atClient(rp, page, await viaUpstream(rp, page, 'github'));
  expect(claims.sub).not.toBe(carol.id);
  const userinfo = await userinfoOf(rp, tokens);
  expect(userinfo).toMatchObject({ sub: claims.sub, name: 'Not Carol' });
  expect(userinfo.email).toBeUndefined();
  const account = (await server.store.accounts.findById(claims.sub!))!;
  expect(account).toMatchObject({ email: null, emailVerified: false, name: 'Not Carol' });
  expect(account.username).toMatch(/^github-[A-Za-z0-9]{12}$/);
  expect(await server.store.upstreamLinks.listByAccount(carol.id)).toEqual([]);
  expect(await server.store.upstreamLinks.find('github', '9000001')).toMatchObject({ accountId: account.id });
  // the control: once GitHub has verified it, the trusted upstream links a new GitHub user to carol
  github.user = { ...github.user, id: 9_000_002, emails: [{ email: 'CAROL@example.com', primary: true, verified: true, visibility: 'public' }] };
  const verified = await openLogin(rp, 'github');
  expect((await atClient(rp, verified, await viaUpstream(rp, verified, 'github'))).claims.sub).toBe(carol.id);
});

test('state and PKCE are checked: a tampered state never reaches GitHub\'s token endpoint; another sign-in\'s code under this state is refused by GitHub', async () => {
  github.user = { id: 9_000_100, login: 'mallory', name: 'Mallory', avatar_url: '', emails: [{ email: 'mallory@example.com', primary: true, verified: true, visibility: null }] };
  const failed = /^Signing in with GitHub did not work\./;

  const page = await openLogin(rp, 'github');
  const answer = await answerAt(await toUpstream(page, 'github'));
  const tampered = new URL(answer);
  tampered.searchParams.set('state', `${page.uid}.${'B'.repeat(43)}`);
  const refused = (await back(rp, page, tampered)).res;
  expect(refused.status).toBe(400);
  expect(alertOf(await refused.text())).toMatch(failed);
  expect(github.tokenRequests).toEqual([]);
  await expectNobodySignedIn(rp, page.ua);

  // code injection: the attacker's code (their own sign-in) under the victim's state
  const victim = await openLogin(rp, 'github');
  const victimAnswer = await answerAt(await toUpstream(victim, 'github'));
  const attacker = await openLogin(rp, 'github');
  const attackerAnswer = await answerAt(await toUpstream(attacker, 'github'));
  const injected = new URL(victimAnswer);
  injected.searchParams.set('code', attackerAnswer.searchParams.get('code')!);
  const injectedRes = (await back(rp, victim, injected)).res;
  expect(injectedRes.status).toBe(400);
  expect(alertOf(await injectedRes.text())).toMatch(failed);
  expect(github.tokenRequests.map((t) => t.outcome)).toEqual(['bad_verification_code']);
  expect(github.apiRequests).toEqual([]);
  await expectNobodySignedIn(rp, victim.ua);
  expect(await server.store.upstreamLinks.find('github', '9000100')).toBeUndefined();

  // the control: the honest answer in a fresh try signs in
  const honest = await openLogin(rp, 'github');
  const { claims } = await atClient(rp, honest, await viaUpstream(rp, honest, 'github'));
  expect(await server.store.upstreamLinks.find('github', '9000100')).toMatchObject({ accountId: claims.sub });
});

test('a GitHub user without a numeric id is a failed sign-in (400 page), not an account; one without an email gets an account without one', async () => {
  github.user = { id: 9_000_200, login: 'eve', name: null, avatar_url: '', emails: [] };
  const accounts = (await server.store.accounts.list()).length;
  // a user whose id is not a number (GitHub's ids are): no subject to link
  github.user = { ...github.user, id: '9000200' as unknown as number };
  const page = await openLogin(rp, 'github');
  const res = await viaUpstream(rp, page, 'github');
  expect(res.status).toBe(400);
  expect(alertOf(await res.text())).toMatch(/^Signing in with GitHub did not work\./);
  await expectNobodySignedIn(rp, page.ua);
  expect((await server.store.accounts.list()).length).toBe(accounts);
  // no email at all (none verified, or none released): an account without one, linked by id
  github.user = { ...github.user, id: 9_000_200 };
  const { claims, tokens } = await atClient(rp, page, await viaUpstream(rp, page, 'github'));
  const userinfo = await userinfoOf(rp, tokens);
  expect(userinfo).toMatchObject({ sub: claims.sub, preferred_username: expect.any(String) });
  expect(userinfo.email).toBeUndefined();
  expect(await server.store.upstreamLinks.find('github', '9000200')).toMatchObject({ accountId: claims.sub });
});
