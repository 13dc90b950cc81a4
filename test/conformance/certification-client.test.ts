/**
 * The certification client (docs/conformance.md, setting S1) and the defaults it does not weaken.
 * Not modules of the suite: these pin what a certification run relies on.
 */
import { join } from 'node:path';
import * as oidc from 'openid-client';

import {
  REDIRECT_URI,
  authRequest,
  authUrl,
  callbackError,
  drive,
  expectAuthorizationError,
  idportCli,
  open,
  registerClient,
  startOp,
  tokenRequest,
  type Op,
} from './helpers.js';

let op: Op;
beforeAll(async () => {
  op = await startOp();
});
afterAll(() => op?.stop());

describe('the certification client (docs/conformance.md, S1) and the defaults it does not weaken', () => {
  test('`idport clients add --pkce-optional` registers a client that may leave PKCE out', async () => {
    const databaseUrl = `sqlite:${join(op.server.dir, 'idport.db')}`;
    const run = await idportCli(databaseUrl, ['clients', 'add', '--name', 'OpenID certification', '--redirect-uri', REDIRECT_URI, '--pkce-optional', '--json']);
    expect({ code: run.code, stderr: run.stderr.replace(/^oidc-provider WARNING.*\n/m, '') }).toEqual({ code: 0, stderr: '' });
    const metadata = JSON.parse(run.stdout) as { client_id: string; client_secret: string };
    expect(metadata).toMatchObject({ require_pkce: false });
    const flow = await drive(op, await authRequest(metadata));
    const res = await tokenRequest(op, metadata, { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI });
    expect(res.status).toBe(200);

    const refused = await idportCli(databaseUrl, ['clients', 'add', '--name', 'SPA', '--redirect-uri', REDIRECT_URI, '--public', '--pkce-optional', '--json']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^idport: .*PKCE/m);
  });

  test('a client registered with the defaults still must use PKCE', async () => {
    const strict = await registerClient(op, { require_pkce: undefined });
    const request = await authRequest(strict.metadata);
    const page = await open(authUrl(op, request.params));
    expect(page.status).toBe(303);
    const back = new URL(page.location!);
    expectAuthorizationError(op, back, request, 'invalid_request');
    expect(callbackError({ callback: back })).toMatchObject({ error: 'invalid_request', state: request.state, code: null });
    expect(back.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  test('a code issued without PKCE cannot be redeemed with a code_verifier (no downgrade)', async () => {
    const flow = await drive(op, await authRequest(op.client));
    const code = flow.callback.searchParams.get('code');
    expect(code).toBeTruthy();
    const res = await tokenRequest(op, op.client, {
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: REDIRECT_URI,
      code_verifier: oidc.randomPKCECodeVerifier(),
    });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  test('a public client cannot make PKCE optional', async () => {
    await expect(registerClient(op, { token_endpoint_auth_method: 'none', client_secret: undefined })).rejects.toMatchObject({
      error: 'invalid_client_metadata',
    });
  });
});
