/**
 * One client policy for every way a client is made: what the CLI builds and the policy accepts,
 * the provider (oidc-provider's own validation plus ours) accepts too, so the server can load it;
 * and what the policy refuses, the provider refuses as well.
 */
import { parseCliArgs } from '../../src/cli/args.js';
import { clientFromArgs } from '../../src/cli/commands/clients.js';
import { checkClientMetadata } from '../../src/clients/client-policy.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const fromCli = (...argv: string[]) => clientFromArgs(parseCliArgs(argv));
const providerAccepts = (metadata: Record<string, unknown>) =>
  server.idport.provider().Client.validate(metadata as never).then(
    () => true,
    (err: { error_description?: string }) => err.error_description ?? String(err),
  );

describe('what the CLI builds and the policy accepts, the provider accepts', () => {
  test.each([
    ['a web app', ['--name', 'A', '--redirect-uri', 'http://127.0.0.1:8080/cb']],
    ['a web app with everything', ['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--post-logout-redirect-uri', 'https://a.example/bye', '--scope', 'openid email read:things', '--first-party', '--web-origin', 'https://a.example', '--pkce-optional']],
    ['a public SPA', ['--name', 'A', '--redirect-uri', 'http://localhost:5173/cb', '--public']],
    ['a machine client', ['--name', 'A', '--grant-type', 'client_credentials', '--scope', 'read:things']],
    ['a device app', ['--name', 'A', '--grant-type', 'device_code', '--public']],
    ['a resource server', ['--name', 'A', '--grant-type', 'client_credentials', '--introspect-for', 'https://api.example']],
    ['a web app with back-channel logout', ['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--backchannel-logout-uri', 'https://a.example/backchannel-logout?tenant=1', '--backchannel-logout-session-required']],
  ])('%s', async (_name, argv) => {
    const metadata = fromCli(...argv);
    expect(checkClientMetadata(metadata, { production: false })).toBeUndefined();
    expect(await providerAccepts(metadata)).toBe(true);
  });
});

describe('what the policy refuses, the provider refuses too', () => {
  const web = () => fromCli('--name', 'A', '--redirect-uri', 'http://127.0.0.1:8080/cb');
  test.each([
    ['a fragment in a redirect URI', { redirect_uris: ['http://127.0.0.1/cb#x'] }, /fragment/],
    ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, /forbidden scheme/],
    ['a custom scheme for a web client', { redirect_uris: ['com.example.app:/cb'] }, /http\(s\) URI/],
    ['credentials in a post-logout URI', { post_logout_redirect_uris: ['https://u:p@a.example/bye'] }, /credentials/],
    ['web_origins with a path', { web_origins: ['https://a.example/app'] }, /web_origins/],
    ['a public client without PKCE', { token_endpoint_auth_method: 'none', client_secret: undefined, require_pkce: false }, /must use PKCE/],
    ['a fragment in the back-channel logout URI', { backchannel_logout_uri: 'https://a.example/logout#x' }, /backchannel_logout_uri: .* must not have a fragment/],
    ['a relative back-channel logout URI', { backchannel_logout_uri: '/logout' }, /backchannel_logout_uri: .* not an absolute URI/],
    ['a back-channel logout URI that is not http(s)', { backchannel_logout_uri: 'ftp://a.example/logout' }, /backchannel_logout_uri: .* must be an http\(s\) URI/],
    ['credentials in the back-channel logout URI', { backchannel_logout_uri: 'https://u:p@a.example/logout' }, /backchannel_logout_uri: .* credentials/],
    ['backchannel_logout_session_required without a URI', { backchannel_logout_session_required: true }, /needs a backchannel_logout_uri/],
    ['backchannel_logout_session_required not a boolean', { backchannel_logout_uri: 'https://a.example/logout', backchannel_logout_session_required: 'yes' }, /must be a boolean/],
  ])('%s', async (_name, change, message) => {
    const metadata = { ...web(), ...change };
    expect(checkClientMetadata(metadata, { production: false })).toMatch(message);
    expect(await providerAccepts(metadata)).not.toBe(true);
  });

  test('with an https issuer, plain http redirect URIs are refused except on loopback', () => {
    const metadata = { ...web(), redirect_uris: ['http://app.example.com/cb'] };
    expect(checkClientMetadata(metadata, { production: true })).toMatch(/must use https/);
    expect(checkClientMetadata({ ...metadata, redirect_uris: ['http://127.0.0.1:9000/cb'] }, { production: true })).toBeUndefined();
  });

  test('with an https issuer, the back-channel logout URI must be https, loopback too (idport itself calls it)', async () => {
    const base = { ...web(), redirect_uris: ['https://a.example/cb'] };
    for (const uri of ['http://a.example/logout', 'http://127.0.0.1:9000/logout', 'http://localhost/logout']) {
      expect(checkClientMetadata({ ...base, backchannel_logout_uri: uri }, { production: true })).toMatch(/backchannel_logout_uri: .* must use https/);
      expect(checkClientMetadata({ ...base, backchannel_logout_uri: uri }, { production: false })).toBeUndefined();
    }
    expect(checkClientMetadata({ ...base, backchannel_logout_uri: 'https://a.example/logout' }, { production: true })).toBeUndefined();
  });

  test('a back-channel logout URI is for a client that signs users in', async () => {
    const machine = fromCli('--name', 'A', '--grant-type', 'client_credentials');
    const metadata = { ...machine, backchannel_logout_uri: 'http://127.0.0.1:9000/logout' };
    expect(checkClientMetadata(metadata, { production: false })).toMatch(/needs the authorization_code grant/);
    expect(await providerAccepts(metadata)).not.toBe(true);
  });

  test('registrations the CLI cannot express are refused by the policy too (dynamic registration will send them)', () => {
    const base = web();
    expect(checkClientMetadata({ ...base, grant_types: ['implicit'] }, { production: false })).toMatch(/implicit is not supported/);
    expect(checkClientMetadata({ ...base, scope: 'openid read:things' }, { production: false })).toMatch(/scope may only hold OpenID scopes/);
    expect(checkClientMetadata({ ...base, client_secret: 'short' }, { production: false })).toMatch(/at least 32 characters/);
    expect(checkClientMetadata({ ...base, token_endpoint_auth_method: 'none', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], client_secret: undefined }, { production: false })).toMatch(/cannot use client_credentials/);
  });
});
