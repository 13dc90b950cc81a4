import { Writable } from 'node:stream';
import pino from 'pino';
import * as oidc from 'openid-client';

import { loadConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { addClient, addUser, alice, discover, loginAndRedeem } from '../helpers/flow.js';
import { tempDir } from '../helpers/server.js';
import { csrfFrom, UserAgent } from '../helpers/user-agent.js';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
let server: RunningServer;
beforeAll(async () => {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${tempDir()}/idport.db`, bruteForce: { freeFailures: 2 } });
  server = await startServer(config, { logger: pino({ level: 'info' }, sink) });
});
afterAll(() => server.close());

const audits = (event: string) => lines.filter((l) => l.kind === 'audit' && l.audit === event);

test('audit events for logins, consent, tokens, revocation and logout, never with secrets', async () => {
  await addUser(server.store);
  const client = await addClient(server.store);
  const config = await discover(server.url, client.client_id, client.client_secret);
  const { tokens } = await loginAndRedeem(config, server.url, { scope: 'openid offline_access', extra: { prompt: 'consent' } });
  await oidc.tokenRevocation(config, tokens.access_token);

  // two failures then a lockout for bob
  for (let i = 0; i < 3; i += 1) {
    const ua = new UserAgent();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:8080/callback', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const step = await ua.follow(url, server.url);
    await ua.postForm(new URL(`${step.url.pathname}/login`, server.url), { csrf: csrfFrom(await step.page!.text()), login: 'bob', password: 'wrong password 1' });
  }
  // logout, confirmed on the page, from the browser that signed in
  const browser = (await loginAndRedeem(config, server.url, { scope: 'openid' })).ua;
  const page = await browser.follow(oidc.buildEndSessionUrl(config, {}), server.url);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.page!.text())![1]!;
  await browser.postForm(new URL('/session/end/confirm', server.url), { xsrf, logout: 'yes' });

  const account = await server.store.accounts.findByLogin('alice');
  expect(audits('login')).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ outcome: 'success', actor: account!.id, client_id: client.client_id, ip: expect.any(String) }),
      expect.objectContaining({ outcome: 'failure', client_id: client.client_id, failures: 1 }),
      expect.objectContaining({ outcome: 'locked', reason: 'account' }),
    ]),
  );
  // (revoking the access token revoked its grant too, so the second sign-in asked again)
  expect(audits('consent').length).toBeGreaterThanOrEqual(1);
  for (const c of audits('consent')) expect(c).toMatchObject({ outcome: 'success', actor: account!.id, client_id: client.client_id });
  expect(audits('grant.revoked')).toEqual(expect.arrayContaining([expect.objectContaining({ outcome: 'success', client_id: client.client_id })]));
  expect(audits('token.issued')).toEqual(
    expect.arrayContaining([expect.objectContaining({ outcome: 'success', grant_type: 'authorization_code', client_id: client.client_id, actor: account!.id })]),
  );
  expect(audits('logout')).toEqual([expect.objectContaining({ outcome: 'success', actor: account!.id })]);
  expect(audits('token.revoked')).toEqual(expect.arrayContaining([expect.objectContaining({ token_type: 'access_token', client_id: client.client_id })]));

  const text = JSON.stringify(lines);
  for (const secret of [alice.password, 'wrong password 1', tokens.access_token, tokens.refresh_token!, tokens.id_token!, client.client_secret]) {
    expect(text).not.toContain(secret);
  }
  // request lines carry the path only, never query strings (codes, state)
  expect(lines.filter((l) => l.msg === 'request').every((l) => !String(l.path).includes('?'))).toBe(true);
  expect(text).not.toMatch(/code=/);
});
