/** The RFC 8693 rules on their own: request checks, who may exchange, scopes, act, lifetime. */
import {
  accessTokenType, actorOf, checkExchangeParams, lifetimeOf, mayExchange, maxActorDepth, narrowScopes, parseActor, targetOf, type ExchangingClient, type SubjectToken,
} from '../../src/tokens/exchange-policy.js';

const subject: SubjectToken = { format: 'opaque', accountId: 'alice', clientId: 'app', audience: 'https://a', scopes: ['read', 'write'], exp: 2000 };
const service: ExchangingClient = { clientId: 'svc', serves: ['https://a'], isPublic: false, impersonates: false };

describe('checkExchangeParams', () => {
  const good = { subject_token: 't', subject_token_type: accessTokenType };
  test('accepts an access token subject, and requested_token_type access_token', () => {
    expect(checkExchangeParams(good)).toBeUndefined();
    expect(checkExchangeParams({ ...good, requested_token_type: accessTokenType })).toBeUndefined();
  });
  test.each([
    [{ subject_token_type: accessTokenType }, /subject_token/],
    [{ subject_token: 't' }, /subject_token_type/],
    [{ ...good, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }, /unsupported subject_token_type/],
    [{ ...good, actor_token: 'x' }, /actor_token is not supported/],
    [{ ...good, actor_token_type: accessTokenType }, /actor_token is not supported/],
    [{ ...good, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, /requested_token_type/],
  ])('%o → invalid_request', (params, why) => {
    expect(checkExchangeParams(params)).toEqual({ error: 'invalid_request', description: expect.stringMatching(why) });
  });
});

describe('targetOf', () => {
  test('resource, audience, both alike, or the client default', () => {
    expect(targetOf({ resource: 'https://b' }, undefined)).toBe('https://b');
    expect(targetOf({ audience: 'https://b' }, 'https://d')).toBe('https://b');
    expect(targetOf({ resource: 'https://b', audience: 'https://b' }, undefined)).toBe('https://b');
    expect(targetOf({}, 'https://d')).toBe('https://d');
  });
  test('none, two different, or an empty one → invalid_target', () => {
    for (const params of [{}, { resource: 'https://b', audience: 'https://c' }, { resource: ['https://b', 'https://c'] }, { resource: '' }]) {
      expect(targetOf(params, undefined)).toMatchObject({ error: 'invalid_target' });
    }
  });
});

describe('mayExchange', () => {
  test('the token\'s API\'s resource server, or the client it was issued to', () => {
    expect(mayExchange(subject, service)).toBeUndefined();
    expect(mayExchange(subject, { ...service, clientId: 'app', serves: [] })).toBeUndefined();
  });
  test('anyone else → invalid_request; a public client → unauthorized_client', () => {
    expect(mayExchange(subject, { ...service, serves: ['https://b'] })).toMatchObject({ error: 'invalid_request' });
    expect(mayExchange(subject, { ...service, isPublic: true })).toMatchObject({ error: 'unauthorized_client' });
  });
});

describe('narrowScopes', () => {
  test('by default the subject\'s scopes that the client may have at the target', () => {
    expect(narrowScopes(undefined, ['read', 'write'], ['read', 'other'])).toEqual(['read']);
  });
  test('asked-for scopes within both are given; beyond either → invalid_scope', () => {
    expect(narrowScopes(['read'], ['read', 'write'], ['read', 'write'])).toEqual(['read']);
    expect(narrowScopes(['other'], ['read'], ['read', 'other'])).toMatchObject({ error: 'invalid_scope', description: expect.stringMatching(/subject token does not carry other/) });
    expect(narrowScopes(['write'], ['read', 'write'], ['read'])).toMatchObject({ error: 'invalid_scope', description: expect.stringMatching(/may not have write/) });
  });
  test('nothing in common → invalid_scope, never an empty token', () => {
    expect(narrowScopes(undefined, ['write'], ['read'])).toMatchObject({ error: 'invalid_scope' });
    expect(narrowScopes(undefined, [], ['read'])).toMatchObject({ error: 'invalid_scope' });
  });
});

describe('actorOf and parseActor', () => {
  test('delegation names the client, over any existing chain', () => {
    expect(actorOf(subject, service)).toEqual({ sub: 'svc' });
    expect(actorOf({ ...subject, act: { sub: 'first' } }, service)).toEqual({ sub: 'svc', act: { sub: 'first' } });
  });
  test('impersonation adds no actor but keeps the existing chain', () => {
    expect(actorOf(subject, { ...service, impersonates: true })).toBeUndefined();
    expect(actorOf({ ...subject, act: { sub: 'first' } }, { ...service, impersonates: true })).toEqual({ sub: 'first' });
  });
  test('a chain too deep is refused, not cut', () => {
    let act = { sub: 'c0' } as { sub: string; act?: unknown };
    for (let i = 1; i < maxActorDepth; i += 1) act = { sub: `c${i}`, act };
    expect(parseActor(act)).toBeDefined();
    expect(actorOf({ ...subject, act: parseActor(act) }, service)).toMatchObject({ error: 'invalid_request' });
  });
  test('malformed claims read as undefined at any level', () => {
    expect(parseActor({ sub: 'a', act: { sub: 'b' } })).toEqual({ sub: 'a', act: { sub: 'b' } });
    for (const bad of [null, 'a', {}, { sub: 1 }, { sub: 'a', act: { nope: 1 } }, { sub: 'a', act: 'b' }]) expect(parseActor(bad)).toBeUndefined();
  });
});

test('lifetimeOf never passes the subject token\'s expiry', () => {
  expect(lifetimeOf(3600, 1600, 1000)).toBe(600);
  expect(lifetimeOf(300, 1600, 1000)).toBe(300);
  expect(lifetimeOf(300, 1000, 1000)).toBe(0);
});
