/**
 * oidcc-config-certification-test-plan: oidcc-discovery-endpoint-verification, the discovery
 * document and the JWKS it points to, as deployed: an https ISSUER behind a TLS-terminating proxy
 * (TRUST_PROXY=true), which is how the suite reaches a real deployment. See docs/conformance.md.
 */
import type { AddressInfo } from 'node:net';
import { importJWK, type JWK } from 'jose';

import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectNoFindings, serverJwksFindings } from './checks.js';

const issuer = 'https://idp.example.test';
const discoveryUrl = `${issuer}/.well-known/openid-configuration`;

let server: TestServer;
let origin: string;
beforeAll(async () => {
  server = await startTestServer({ issuer, proxy: true });
  origin = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
});
afterAll(() => server?.stop());

/** A GET for an https URL of the issuer, as the TLS-terminating proxy would forward it. */
function viaProxy(url: string) {
  const { pathname, search, host } = new URL(url);
  expect(host).toBe(new URL(issuer).host);
  return fetch(`${origin}${pathname}${search}`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': host } });
}

/** Metadata names defined by OIDC Discovery 1.0, RFC 8414 and the registered extensions we use. */
const knownMetadata = new Set([
  // RFC 8628 §4 (device authorization grant)
  'device_authorization_endpoint',
  // OpenID Connect Discovery 1.0 §3
  'issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'registration_endpoint',
  'scopes_supported', 'response_types_supported', 'response_modes_supported', 'grant_types_supported', 'acr_values_supported',
  'subject_types_supported', 'id_token_signing_alg_values_supported', 'id_token_encryption_alg_values_supported',
  'id_token_encryption_enc_values_supported', 'userinfo_signing_alg_values_supported', 'userinfo_encryption_alg_values_supported',
  'userinfo_encryption_enc_values_supported', 'request_object_signing_alg_values_supported', 'request_object_encryption_alg_values_supported',
  'request_object_encryption_enc_values_supported', 'token_endpoint_auth_methods_supported', 'token_endpoint_auth_signing_alg_values_supported',
  'display_values_supported', 'claim_types_supported', 'claims_supported', 'service_documentation', 'claims_locales_supported',
  'ui_locales_supported', 'claims_parameter_supported', 'request_parameter_supported', 'request_uri_parameter_supported',
  'require_request_uri_registration', 'op_policy_uri', 'op_tos_uri',
  // RFC 8414 / RFC 7009 / RFC 7662 / RFC 7636
  'revocation_endpoint', 'revocation_endpoint_auth_methods_supported', 'revocation_endpoint_auth_signing_alg_values_supported',
  'introspection_endpoint', 'introspection_endpoint_auth_methods_supported', 'introspection_endpoint_auth_signing_alg_values_supported',
  'code_challenge_methods_supported',
  // RP-Initiated Logout 1.0, RFC 9207, RFC 9126 (PAR), RFC 9449 (DPoP), RFC 9101 (JAR)
  'end_session_endpoint', 'authorization_response_iss_parameter_supported', 'pushed_authorization_request_endpoint',
  'require_pushed_authorization_requests', 'dpop_signing_alg_values_supported', 'require_signed_request_object',
  // Back-Channel Logout 1.0 §2.1 (registered in the OAuth Authorization Server Metadata registry)
  'backchannel_logout_supported', 'backchannel_logout_session_supported',
]);

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('oidcc-config-certification-test-plan', () => {
  test('oidcc-discovery-endpoint-verification', async () => {
    // the discovery URL: https, ends in /.well-known/openid-configuration, answers 200 JSON
    expect(discoveryUrl.startsWith('https://')).toBe(true);
    const res = await viaProxy(discoveryUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const meta = (await res.json()) as Record<string, unknown>;

    // issuer consistent with where the document was fetched from (no impersonation)
    expect(meta.issuer).toBe(issuer);
    expect(new URL(meta.issuer as string).protocol).toBe('https:');

    // required members (OIDC Discovery §3) and RFC 8414 shapes
    for (const name of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported']) {
      expect([name, meta[name] !== undefined]).toEqual([name, true]);
    }
    for (const [name, value] of Object.entries(meta)) {
      if (name.endsWith('_supported') && !name.startsWith('require')) {
        const ok = typeof value === 'boolean' || (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string'));
        expect([name, ok]).toEqual([name, true]);
      }
    }
    // no unexpected metadata (the suite warns on names outside the registries)
    expect(Object.keys(meta).filter((k) => !knownMetadata.has(k))).toEqual([]);

    // every endpoint is https on the issuer (CheckDiscEndpointAllEndpointsAreHttps)
    const endpoints = Object.entries(meta).filter(([k]) => k.endsWith('_endpoint') || k === 'jwks_uri');
    expect(endpoints.map(([k]) => k)).toEqual(
      expect.arrayContaining(['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'introspection_endpoint', 'revocation_endpoint']),
    );
    for (const [name, url] of endpoints) expect([name, new URL(url as string).origin]).toEqual([name, issuer]);

    // the values the suite checks
    expect(meta.response_types_supported).toContain('code');
    expect(meta.subject_types_supported).toEqual(expect.arrayContaining(['public']));
    expect(meta.id_token_signing_alg_values_supported).toContain('RS256');
    expect(meta.id_token_signing_alg_values_supported).not.toContain('none');
    if (meta.userinfo_signing_alg_values_supported !== undefined) expect(meta.userinfo_signing_alg_values_supported).toContain('RS256');
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'address', 'phone', 'offline_access']));
    for (const scope of meta.scopes_supported as string[]) expect(scope).toMatch(/^[\x21\x23-\x5B\x5D-\x7E]+$/);
    expect(meta.claims_supported).toEqual(expect.arrayContaining(['sub', 'name', 'email', 'address', 'phone_number', 'birthdate']));
    expect(meta.claims_parameter_supported).toBe(true);
    // CheckDiscEndpointLocalesSyntax, CheckDiscEndpointLocalesCanonicalCasing: well-formed BCP 47, canonical case
    for (const field of ['ui_locales_supported', 'claims_locales_supported']) {
      for (const tag of (meta[field] as string[] | undefined) ?? []) expect([field, Intl.getCanonicalLocales(tag)]).toEqual([field, [tag]]);
    }
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    // request objects: by value not advertised (absent means false), by reference explicitly not supported
    expect(meta.request_parameter_supported ?? false).toBe(false);
    expect(meta.request_uri_parameter_supported).toBe(false);
    expect(meta.request_object_signing_alg_values_supported).toBeUndefined();
    // static registration only
    expect(meta.registration_endpoint).toBeUndefined();
    expect(meta.end_session_endpoint).toBe(`${issuer}/session/end`);

    // the JWKS: reachable over https, public keys only, each with a distinct kid, usable for its alg
    const jwksRes = await viaProxy(meta.jwks_uri as string);
    expect(jwksRes.status).toBe(200);
    expect(jwksRes.headers.get('content-type')).toMatch(/^application\/(jwk-set\+)?json/);
    const jwks = (await jwksRes.json()) as { keys: JWK[] };
    // ValidateJwksSequence, CheckForKeyIdInServerJWKs, CheckDistinctKeyIdValueInServerJWKs
    expectNoFindings(await serverJwksFindings(jwks));
    for (const key of jwks.keys) {
      for (const member of privateMembers) expect([key.kid, member, member in key]).toEqual([key.kid, member, false]);
      expect(key.use).toBe('sig');
      expect(['RSA', 'EC']).toContain(key.kty);
      await expect(importJWK(key, key.alg)).resolves.toBeTruthy();
      if (key.kty === 'RSA') expect(Buffer.from(key.n!, 'base64url').length * 8).toBeGreaterThanOrEqual(2048);
    }
    // a key for every advertised ID token algorithm
    for (const alg of meta.id_token_signing_alg_values_supported as string[]) expect(jwks.keys.map((k) => k.alg)).toContain(alg);
  });
});
