import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

import { addClient, alice, discover, loginAndRedeem, startFlowServer } from '../helpers/flow.js';
import type { TestServer } from '../helpers/server.js';

let server: TestServer;
let client: Awaited<ReturnType<typeof addClient>>;
let config: oidc.Configuration;

beforeAll(async () => {
  ({ server, client, config } = await startFlowServer());
});
afterAll(() => server.stop());

describe('authorization code flow with PKCE (openid-client as the relying party)', () => {
  test('discovery advertises code flow only, S256 only, and our endpoints', async () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(server.url);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.grant_types_supported).not.toContain('password');
    expect(meta.introspection_endpoint).toBe(`${server.url}/token/introspection`);
    expect(meta.revocation_endpoint).toBe(`${server.url}/token/revocation`);
    expect(meta.end_session_endpoint).toBe(`${server.url}/session/end`);
    expect(meta.id_token_signing_alg_values_supported).toContain('RS256');
  });

  test('logs in through the pages, gets a valid ID token, userinfo, refresh, introspection, revocation', async () => {
    const { tokens } = await loginAndRedeem(config, server.url, { scope: 'openid profile email offline_access', extra: { prompt: 'consent' } });

    const idToken = tokens.id_token!;
    expect(decodeProtectedHeader(idToken).alg).toBe('RS256');
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(`${server.url}/jwks`)), {
      issuer: server.url,
      audience: client.client_id,
    });
    const account = await server.store.accounts.findByLogin('alice');
    expect(payload.sub).toBe(account!.id);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, account!.id);
    expect(info).toMatchObject({ sub: account!.id, name: alice.name, email: alice.email, email_verified: true, preferred_username: 'alice' });

    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokens.access_token);

    const active = await oidc.tokenIntrospection(config, refreshed.access_token);
    expect(active).toMatchObject({ active: true, client_id: client.client_id, sub: account!.id });

    await oidc.tokenRevocation(config, refreshed.access_token);
    const revoked = await oidc.tokenIntrospection(config, refreshed.access_token);
    expect(revoked.active).toBe(false);
  });

  test('client credentials for a machine client', async () => {
    const machine = await addClient(server.store, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const machineConfig = await discover(server.url, machine.client_id, machine.client_secret);
    const tokens = await oidc.clientCredentialsGrant(machineConfig, {});
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const info = await oidc.tokenIntrospection(machineConfig, tokens.access_token);
    expect(info).toMatchObject({ active: true, client_id: machine.client_id });
  });
});
