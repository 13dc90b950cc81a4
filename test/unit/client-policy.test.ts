/**
 * One client policy for every way a client is made: what the CLI builds and the policy accepts,
 * the provider (oidc-provider's own validation plus ours) accepts too, so the server can load it;
 * and what the policy refuses, the provider refuses as well.
 */
import { parseCliArgs } from '../../src/cli/args.js';
import { clientFromArgs } from '../../src/cli/commands/clients.js';
import { checkClientMetadata } from '../../src/clients/client-policy.js';
import { checkRegistration, operatorOnlyProperties } from '../../src/clients/registration-policy.js';
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
    ['a token exchange service', ['--name', 'A', '--grant-type', 'token-exchange', '--introspect-for', 'https://api.example', '--scope', 'read:things']],
    ['an impersonating token exchange service', ['--name', 'A', '--grant-type', 'token-exchange', '--grant-type', 'client_credentials', '--allow-impersonation']],
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
    ['allow_impersonation without the token exchange grant', { allow_impersonation: true }, /needs the token-exchange grant/],
    ['allow_impersonation that is not a boolean', { allow_impersonation: 'yes' }, /allow_impersonation must be a boolean/],
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
    const exchange = 'urn:ietf:params:oauth:grant-type:token-exchange';
    expect(checkClientMetadata({ ...base, token_endpoint_auth_method: 'none', grant_types: [exchange], response_types: [], redirect_uris: [], client_secret: undefined }, { production: false })).toMatch(/cannot use token exchange/);
    expect(checkClientMetadata({ ...base, grant_types: ['authorization_code', exchange] }, { production: false })).toBeUndefined();
  });

  test('the CLI builds token exchange clients with the grant\'s full URN and refuses what cannot work', () => {
    const service = fromCli('--name', 'S', '--grant-type', 'token-exchange', '--introspect-for', 'https://api.example');
    expect(service).toMatchObject({ grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'], redirect_uris: [], response_types: [], introspect_for: ['https://api.example'] });
    expect(service).not.toHaveProperty('allow_impersonation');
    expect(fromCli('--name', 'S', '--grant-type', 'urn:ietf:params:oauth:grant-type:token-exchange', '--allow-impersonation').allow_impersonation).toBe(true);
    expect(() => fromCli('--name', 'S', '--grant-type', 'token-exchange', '--public')).toThrow(/cannot use token exchange/);
    expect(() => fromCli('--name', 'S', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--allow-impersonation')).toThrow(/--allow-impersonation needs --grant-type token-exchange/);
  });
});

describe('private_key_jwt (RFC 7523): the client proves itself with a key of its registered JWKS', () => {
  const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', use: 'sig', kid: 'k1' }] };
  const keyClient = () => {
    const metadata: Record<string, unknown> = { ...fromCli('--name', 'A', '--redirect-uri', 'http://127.0.0.1:8080/cb'), token_endpoint_auth_method: 'private_key_jwt' };
    delete metadata.client_secret;
    return metadata as ReturnType<typeof fromCli>;
  };

  test('with jwks (or jwks_uri) and no secret: the policy and the provider accept it', async () => {
    const metadata = { ...keyClient(), jwks };
    expect(checkClientMetadata(metadata, { production: false })).toBeUndefined();
    expect(await providerAccepts(metadata)).toBe(true);
    expect(checkClientMetadata({ ...keyClient(), jwks_uri: 'https://a.example/jwks.json' }, { production: true })).toBeUndefined();
  });

  test('without keys: refused by both', async () => {
    expect(checkClientMetadata(keyClient(), { production: false })).toMatch(/private_key_jwt needs jwks or jwks_uri/);
    expect(await providerAccepts(keyClient())).not.toBe(true);
  });
});

describe('what a client registering itself may not do (registration-policy.ts)', () => {
  test('the token-exchange grant: operator only, though an update may keep what the operator gave', () => {
    const exchange = { ...fromCli('--name', 'S', '--grant-type', 'token-exchange') };
    expect(checkClientMetadata(exchange, { production: true })).toBeUndefined();
    expect(checkRegistration(exchange, { production: true })).toMatch(/token-exchange grant is granted by the operator only/);
    expect(checkRegistration(exchange, { production: true, current: { grant_types: exchange.grant_types } })).toBeUndefined();
  });

  const web = () => ({ ...fromCli('--name', 'A', '--redirect-uri', 'https://a.example/cb') });

  test.each(operatorOnlyProperties.map((key) => [key]))('%s: operator only', (key) => {
    const value = { first_party: true, require_mfa: true, api_scopes: ['read'], introspect_for: ['https://api'], default_audience: 'https://api', web_origins: ['https://a.example'], allow_impersonation: true }[key as string];
    // allow_impersonation goes with the token-exchange grant, which the operator grants too
    const grants = key === 'allow_impersonation' ? { grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'] } : {};
    const metadata = { ...web(), ...grants, [key]: value };
    // the CLI (the operator) may set it; the client itself may not, but may repeat what the operator set
    expect(checkClientMetadata(metadata, { production: true })).toBeUndefined();
    expect(checkRegistration(metadata, { production: true })).toMatch(new RegExp(`^${key} is granted by the operator only`));
    expect(checkRegistration(metadata, { production: true, current: { ...grants, [key]: value } })).toBeUndefined();
  });

  test('require_pkce stays the client\'s own choice (confidential clients only)', () => {
    expect(checkRegistration({ ...web(), require_pkce: false }, { production: true })).toBeUndefined();
  });

  test('URIs the server fetches: jwks_uri https in production, no sector_identifier_uri', () => {
    const keyed = { ...web(), client_secret: undefined, token_endpoint_auth_method: 'private_key_jwt' };
    expect(checkRegistration({ ...keyed, jwks_uri: 'http://10.0.0.1/jwks' }, { production: true })).toMatch(/jwks_uri must be an https URI/);
    expect(checkRegistration({ ...keyed, jwks_uri: 'http://127.0.0.1:9000/jwks' }, { production: false })).toBeUndefined();
    expect(checkRegistration({ ...web(), backchannel_logout_uri: 'http://10.0.0.1/logout' }, { production: true })).toMatch(/backchannel_logout_uri must be an https URI/);
    expect(checkRegistration({ ...web(), sector_identifier_uri: 'https://a.example/sector.json' }, { production: false })).toMatch(/sector_identifier_uri is not supported/);
  });

  test('and everything the client policy refuses', () => {
    expect(checkRegistration({ ...web(), scope: 'openid read:things' }, { production: true })).toMatch(/scope may only hold OpenID scopes/);
    expect(checkRegistration({ ...web(), redirect_uris: ['http://a.example/cb'] }, { production: true })).toMatch(/must use https/);
  });
});
