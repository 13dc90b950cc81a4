import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';

import { createAccountService } from '../../src/accounts/account-service.js';
import { createPasswords } from '../../src/accounts/password.js';
import { openSqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store, UpstreamRecord } from '../../src/storage/types.js';
import { appleClientSecret, applePrivateKey } from '../../src/upstreams/apple-client-secret.js';
import { createFederatedAccounts } from '../../src/upstreams/federated-accounts.js';
import { expectedIssuer } from '../../src/upstreams/microsoft-upstream.js';
import { mapProfile, type UpstreamProfile } from '../../src/upstreams/profile.js';
import { createUpstreamRegistry, slugOf, upstreamSummary } from '../../src/upstreams/upstream-registry.js';
import { interactionOfState } from '../../src/upstreams/upstream-sign-in.js';

let store: Store;
beforeEach(() => {
  store = openSqliteStore({ path: ':memory:' });
});
afterEach(() => store.close());

const kek = new Uint8Array(32).fill(7);
const base = { name: 'Acme SSO', issuer: 'https://sso.acme.example', clientId: 'idport', clientSecret: 's3cret-value' };

describe('the upstream registry', () => {
  test('adds with defaults: id from the name, OIDC, JIT on, linking by email off, the secret sealed under the KEK', async () => {
    const registry = createUpstreamRegistry(store.upstreams, kek);
    const added = await registry.add(base);
    expect(added).toMatchObject({ id: 'acme-sso', preset: 'oidc', scope: 'openid email profile', jit: true, linkByVerifiedEmail: false, buttonLabel: null });
    expect(JSON.stringify(added.secrets)).not.toContain('s3cret-value');
    expect(await registry.clientSecret(added)).toBe('s3cret-value');
    expect(JSON.stringify(upstreamSummary(added))).not.toContain('s3cret');
    expect(upstreamSummary(added)).toMatchObject({ secret_sealed: true, redirect_path: '/upstream/acme-sso/callback' });
  });

  test('refuses what would be unsafe or unclear, naming the problem', async () => {
    const registry = createUpstreamRegistry(store.upstreams, undefined);
    const refusal = (input: Partial<typeof base> & Record<string, unknown>) => registry.add({ ...base, ...input } as never).then(() => 'added', (e: Error) => e.message);
    expect(await refusal({ issuer: 'http://sso.acme.example' })).toMatch(/https/);
    expect(await refusal({ issuer: 'https://user:pw@sso.acme.example' })).toMatch(/credentials/);
    expect(await refusal({ issuer: 'not a url' })).toMatch(/URL/);
    expect(await refusal({ scope: 'email profile' })).toMatch(/openid/);
    expect(await refusal({ clientSecret: '' })).toMatch(/client secret is required/);
    expect(await refusal({ id: 'Bad_ID' })).toMatch(/--id/);
    // apple signs its own client secrets with the team's key: a client secret is refused
    expect(await refusal({ preset: 'apple', settings: { teamId: 'TEAM123456', keyId: 'KEY987ABCD' } })).toMatch(/signs its own client secrets/);
    expect(await refusal({ preset: 'myspace' })).toMatch(/not a preset/);
    expect(await refusal({ claimMap: { sub: 'email' }, id: 'x' })).toBe('added');
    expect(await refusal({ claimMap: { password: 'x' }, id: 'y' })).toMatch(/not a claim idport maps/);
    expect(await refusal({ claimMap: { name: 'a b' }, id: 'z' })).toMatch(/name the upstream's claim/);
    expect(await refusal({ settings: { apiUrl: 'https://api.example' }, id: 'w' })).toMatch(/not one of the oidc preset's/);
    // http only to this machine (development, tests)
    expect(await refusal({ issuer: 'http://localhost:4000', id: 'local' })).toBe('added');
    expect(await refusal({})).toBe('added');
    expect(await refusal({})).toMatch(/exists already/);
  });

  test('presets fill in what they know; GitHub gets its API URL', async () => {
    const registry = createUpstreamRegistry(store.upstreams, undefined);
    expect(await registry.add({ ...base, issuer: undefined, name: 'Google', preset: 'google' } as never)).toMatchObject({ issuer: 'https://accounts.google.com', id: 'google' });
    expect(await registry.add({ ...base, issuer: undefined, name: 'GitHub', preset: 'github' } as never)).toMatchObject({
      issuer: 'https://github.com', scope: 'read:user user:email', settings: { apiUrl: 'https://api.github.com' },
    });
    await expect(registry.add({ ...base, issuer: undefined, name: 'Plain' } as never)).rejects.toThrow(/--issuer is required/);
  });

  test('update changes only what is given; the secret stays unless replaced', async () => {
    const registry = createUpstreamRegistry(store.upstreams, kek);
    await registry.add(base);
    const updated = await registry.update('acme-sso', { jit: false, buttonLabel: 'Acme' });
    expect(updated).toMatchObject({ jit: false, buttonLabel: 'Acme', issuer: base.issuer, name: base.name });
    expect(await registry.clientSecret(updated!)).toBe('s3cret-value');
    expect(await registry.clientSecret((await registry.update('acme-sso', { clientSecret: 'new-one' }))!)).toBe('new-one');
    expect(await registry.update('missing', { jit: true })).toBeUndefined();
  });

  test('slugs', () => {
    expect(slugOf('Acme SSO')).toBe('acme-sso');
    expect(slugOf('  Ünïcode — Corp!! ')).toBe('unicode-corp');
    expect(slugOf('株式会社')).toBe('upstream');
  });
});

describe('the naver, apple and microsoft presets', () => {
  const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const apple = { name: 'Apple', preset: 'apple' as const, clientId: 'com.example.signin', settings: { teamId: 'TEAM123456', keyId: 'KEY987ABCD' } };

  test('naver: its login and API URLs; no scope; a client secret', async () => {
    const registry = createUpstreamRegistry(store.upstreams, kek);
    expect(await registry.add({ name: 'Naver', preset: 'naver', clientId: 'n', clientSecret: 'naver-secret' })).toMatchObject({
      issuer: 'https://nid.naver.com', scope: '', settings: { apiUrl: 'https://openapi.naver.com' },
    });
    await expect(registry.add({ name: 'N2', preset: 'naver', clientId: 'n', clientSecret: 's', settings: { apiUrl: 'http://openapi.naver.com' } })).rejects.toThrow(/apiUrl must use https/);
    await expect(registry.add({ name: 'N3', preset: 'naver', clientId: 'n', privateKey: pem(ecKey().privateKey) })).rejects.toThrow(/takes a client secret, not a private key/);
  });

  test('apple: the team key sealed instead of a client secret; team and key ids required; updates keep what is not given', async () => {
    const registry = createUpstreamRegistry(store.upstreams, kek);
    const { privateKey, publicKey } = ecKey();
    const added = await registry.add({ ...apple, privateKey: pem(privateKey) });
    expect(added).toMatchObject({ id: 'apple', issuer: 'https://appleid.apple.com', scope: 'openid email name', settings: apple.settings });
    expect(JSON.stringify(added)).not.toContain('PRIVATE KEY');
    expect(await registry.privateKey(added)).toBe(pem(privateKey).trim());
    expect(upstreamSummary(added).secret_sealed).toBe(true);

    const refusal = (input: Record<string, unknown>) => registry.add({ ...apple, id: 'a2', privateKey: pem(privateKey), ...input } as never).then(() => 'added', (e: Error) => e.message);
    expect(await refusal({ privateKey: undefined })).toMatch(/private key is required/);
    expect(await refusal({ privateKey: 'not a key' })).toMatch(/not a PEM private key/);
    expect(await refusal({ privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() })).toMatch(/not an EC P-256 key/);
    expect(await refusal({ privateKey: pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey) })).toMatch(/not an EC P-256 key/);
    expect(await refusal({ clientSecret: 'a secret' })).toMatch(/signs its own client secrets/);
    expect(await refusal({ settings: { keyId: 'KEY987ABCD' } })).toMatch(/--team-id is required/);
    expect(await refusal({ settings: { teamId: 'TEAM123456' } })).toMatch(/--key-id is required/);
    expect(await refusal({ settings: { teamId: 'team', keyId: 'KEY987ABCD' } })).toMatch(/ten capital letters and digits/);
    expect(await refusal({ scope: 'email name' })).toMatch(/openid/);
    expect(await refusal({ issuer: 'http://appleid.apple.com' })).toMatch(/https/);

    // a new key id keeps the team id and the key; a new key replaces the key; a client secret is refused
    const rekeyed = (await registry.update('apple', { settings: { keyId: 'NEWKEY0001' } }))!;
    expect(rekeyed.settings).toEqual({ teamId: 'TEAM123456', keyId: 'NEWKEY0001' });
    expect(await registry.privateKey(rekeyed)).toBe(pem(privateKey).trim());
    const next = ecKey().privateKey;
    expect(await registry.privateKey((await registry.update('apple', { privateKey: pem(next) }))!)).toBe(pem(next).trim());
    await expect(registry.update('apple', { clientSecret: 'x' })).rejects.toThrow(/signs its own client secrets/);

    // the client secret it signs: ES256, kid, iss team, sub client, aud Apple, 5 minutes
    const secret = appleClientSecret(applePrivateKey(pem(privateKey)), { teamId: 'TEAM123456', keyId: 'KEY987ABCD', clientId: apple.clientId, audience: 'https://appleid.apple.com' });
    const { payload, protectedHeader } = await jwtVerify(secret, publicKey, { algorithms: ['ES256'], issuer: 'TEAM123456', subject: apple.clientId, audience: 'https://appleid.apple.com' });
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'KEY987ABCD' });
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  test('microsoft: the authority and a tenant (organizations by default); the tenant and authority checked', async () => {
    const registry = createUpstreamRegistry(store.upstreams, undefined);
    const ms = { name: 'Microsoft', preset: 'microsoft' as const, clientId: 'c', clientSecret: 's' };
    expect(await registry.add(ms)).toMatchObject({ issuer: 'https://login.microsoftonline.com', scope: 'openid email profile', settings: { tenant: 'organizations' } });
    expect(await registry.add({ ...ms, id: 'one', settings: { tenant: '72f988bf-86f1-41af-91ab-2d7cd011db47' } })).toMatchObject({ settings: { tenant: '72f988bf-86f1-41af-91ab-2d7cd011db47' } });
    expect(await registry.add({ ...ms, id: 'domain', settings: { tenant: 'contoso.onmicrosoft.com' } })).toMatchObject({ settings: { tenant: 'contoso.onmicrosoft.com' } });
    await expect(registry.add({ ...ms, id: 'x1', settings: { tenant: '../common' } })).rejects.toThrow(/--tenant is/);
    await expect(registry.add({ ...ms, id: 'x2', settings: { tenant: '' } })).rejects.toThrow(/--tenant is/);
    await expect(registry.add({ ...ms, id: 'x3', issuer: 'https://login.microsoftonline.com/common/v2.0' })).rejects.toThrow(/authority without a path/);
    await expect(registry.add({ name: 'Plain', issuer: 'https://sso.example', clientId: 'c', clientSecret: 's', settings: { tenant: 'common' } })).rejects.toThrow(/not one of the oidc preset's/);
  });

  test('microsoft: the issuer of a tenant is the template with its tid, which must be a tenant id', () => {
    const template = 'https://login.microsoftonline.com/{tenantid}/v2.0';
    expect(expectedIssuer(template, '72f988bf-86f1-41af-91ab-2d7cd011db47')).toBe('https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0');
    for (const tid of [undefined, '', '{tenantid}', 'common', '72f988bf-86f1-41af-91ab-2d7cd011db47/../x', 42]) expect(expectedIssuer(template, tid)).toBeUndefined();
    // one tenant's issuer is itself, whatever tid says (it must then match as it is)
    expect(expectedIssuer('https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0', 'other')).toBe('https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0');
  });
});

describe('profiles from upstream claims', () => {
  test('standard claims, through the claim map; only a boolean true verifies an email', () => {
    expect(mapProfile({ sub: 'u1', email: 'a@b.example', email_verified: true, name: 'A', locale: 'ko', picture: 'https://img/a.png' }, {})).toEqual({
      subject: 'u1', email: 'a@b.example', emailVerified: true, name: 'A', preferredUsername: undefined, claims: { locale: 'ko', picture: 'https://img/a.png' },
    });
    expect(mapProfile({ sub: 'u1', email: 'a@b.example', email_verified: 'true' }, {})?.emailVerified).toBe(false);
    expect(mapProfile({ sub: 'u1', email: 'a@b.example', email_verified: 1 }, {})?.emailVerified).toBe(false);
    expect(mapProfile({ oid: 'x9', mail: 'c@d.example', verified: true }, { sub: 'oid', email: 'mail', email_verified: 'verified' })).toMatchObject({ subject: 'x9', email: 'c@d.example', emailVerified: true });
    expect(mapProfile({ sub: 42 }, {})?.subject).toBe('42');
  });

  test('no usable subject, no profile; malformed values are dropped', () => {
    expect(mapProfile({ email: 'a@b.example' }, {})).toBeUndefined();
    expect(mapProfile({ sub: '' }, {})).toBeUndefined();
    expect(mapProfile({ sub: 'x'.repeat(256) }, {})).toBeUndefined();
    const odd = mapProfile({ sub: 's', email: 'not-an-email', picture: 'javascript:alert(1)', name: { first: 'A' } }, {});
    expect(odd).toMatchObject({ email: undefined, name: undefined, claims: {} });
  });
});

describe('state', () => {
  test('carries the interaction uid, and nothing that is not shaped like one', () => {
    expect(interactionOfState('abcDEF123_-xyz.0123456789abcdefABCDEF')).toBe('abcDEF123_-xyz');
    for (const bad of [undefined, '', 'nodot', '../../x.0123456789abcdefABCDEF', 'abcdefgh.short', ['abcdefgh.0123456789abcdefABCDEF']]) {
      expect(interactionOfState(bad)).toBeUndefined();
    }
  });
});

describe('who an upstream user becomes (federated-accounts.ts)', () => {
  const passwords = createPasswords({ maxQueued: 10 });
  const setup = async (overrides: Partial<UpstreamRecord> = {}) => {
    const accounts = createAccountService(store, { minLength: 8, maxLength: 256 }, passwords);
    const federated = createFederatedAccounts(store, accounts);
    const registry = createUpstreamRegistry(store.upstreams, undefined);
    const upstream = { ...(await registry.add(base)), ...overrides };
    return { accounts, federated, upstream };
  };
  const profile = (p: Partial<UpstreamProfile> = {}): UpstreamProfile => ({ subject: 'up-1', email: 'dana@example.com', emailVerified: true, name: 'Dana', claims: {}, ...p });

  test('unknown user: a new account without a password (email as username), linked; the next sign-in finds it', async () => {
    const { federated, upstream, accounts } = await setup();
    const first = await federated.resolve(upstream, profile({ claims: { locale: 'ko' } }));
    expect(first).toMatchObject({ kind: 'created', account: { username: 'dana@example.com', email: 'dana@example.com', emailVerified: true, passwordHash: '', claims: { locale: 'ko' } } });
    const again = await federated.resolve(upstream, profile());
    expect(again).toMatchObject({ kind: 'linked', account: { id: (first as { account: { id: string } }).account.id } });
    expect(await accounts.list()).toHaveLength(1);
    // no password: no password opens it
    expect(await accounts.authenticate('dana@example.com', '')).toBeUndefined();
  });

  test('without JIT, an unknown user is refused', async () => {
    const { federated, upstream, accounts } = await setup({ jit: false });
    expect(await federated.resolve(upstream, profile())).toEqual({ kind: 'refused', reason: 'no-account' });
    expect(await accounts.list()).toHaveLength(0);
  });

  test('an existing account with the email: proven first, unless the upstream is trusted and both emails are verified', async () => {
    const { federated, upstream, accounts } = await setup();
    const dana = await accounts.create({ username: 'dana', password: 'dana has a long password', email: 'Dana@Example.com', emailVerified: true });
    expect(await federated.resolve(upstream, profile())).toEqual({ kind: 'prove', account: dana });
    expect(await federated.linksOf(dana.id)).toEqual([]);
    // trusted upstream, verified on both sides: linked at once
    expect(await federated.resolve({ ...upstream, linkByVerifiedEmail: true }, profile())).toMatchObject({ kind: 'linked-by-email', account: { id: dana.id } });
    expect((await federated.linksOf(dana.id)).map((l) => l.subject)).toEqual(['up-1']);
  });

  test('a trusted upstream still never links to an account whose own email is unverified (pre-hijacked accounts)', async () => {
    const { federated, upstream, accounts } = await setup({ linkByVerifiedEmail: true });
    const squatter = await accounts.create({ username: 'squatter', password: 'squatter long password', email: 'dana@example.com', emailVerified: false });
    expect(await federated.resolve(upstream, profile())).toEqual({ kind: 'prove', account: squatter });
    expect(await federated.linksOf(squatter.id)).toEqual([]);
  });

  test('an unverified upstream email never links and never makes a second account with that email', async () => {
    const { federated, upstream, accounts } = await setup({ linkByVerifiedEmail: true });
    await accounts.create({ username: 'dana', password: 'dana has a long password', email: 'dana@example.com', emailVerified: true });
    expect(await federated.resolve(upstream, profile({ emailVerified: false }))).toEqual({ kind: 'refused', reason: 'email-in-use' });
    expect(await accounts.list()).toHaveLength(1);
  });

  test('a linked subject is its account, whatever email the upstream says now', async () => {
    const { federated, upstream, accounts } = await setup({ linkByVerifiedEmail: true });
    const created = await federated.resolve(upstream, profile());
    const victim = await accounts.create({ username: 'erin', password: 'erin has a long password', email: 'erin@example.com', emailVerified: true });
    const later = await federated.resolve(upstream, profile({ email: 'erin@example.com' }));
    expect(later).toMatchObject({ kind: 'linked', account: { id: (created as { account: { id: string } }).account.id } });
    expect(await federated.linksOf(victim.id)).toEqual([]);
  });

  test('a username clash falls back to a name made from the subject', async () => {
    const { federated, upstream, accounts } = await setup();
    await accounts.create({ username: 'dana@example.com', password: 'a long password here', email: 'other@example.com' });
    const result = await federated.resolve(upstream, profile({ email: 'dana@example.com' }));
    // the email is that account's username: it is taken as a login name, so no second account
    expect(result).toEqual({ kind: 'refused', reason: 'email-in-use' });
    const noEmail = await federated.resolve(upstream, profile({ subject: 'up-2', email: undefined }));
    expect(noEmail).toMatchObject({ kind: 'created', account: { username: expect.stringMatching(/^acme-sso-[A-Za-z0-9]{12}$/), email: null } });
  });

  test('unlink: never the last way in', async () => {
    const { federated, upstream, accounts } = await setup();
    const created = (await federated.resolve(upstream, profile())) as { account: Parameters<typeof federated.unlink>[0] };
    expect(await federated.unlink(created.account, upstream.id, 'up-1', 0)).toBe('last');
    expect(await federated.unlink(created.account, upstream.id, 'up-1', 1)).toBe(true);
    expect(await federated.unlink(created.account, upstream.id, 'up-1', 1)).toBe(false);
    const withPassword = await accounts.create({ username: 'fay', password: 'fay has a long password', email: 'fay@example.com', emailVerified: true });
    await federated.link(upstream, 'up-9', withPassword.id);
    expect(await federated.unlink(withPassword, upstream.id, 'up-9', 0)).toBe(true);
  });

  test('removing an account removes its links: the subject can start over', async () => {
    const { federated, upstream, accounts } = await setup();
    const created = (await federated.resolve(upstream, profile())) as { account: { id: string } };
    await accounts.remove(created.account.id);
    expect(await store.upstreamLinks.find(upstream.id, 'up-1')).toBeUndefined();
    expect(await federated.resolve(upstream, profile())).toMatchObject({ kind: 'created' });
  });
});
