import type { Middleware, ParameterizedContext } from 'koa';

import { bySegment, firstSegment } from '../../src/http/path-segments.js';

/** Runs the middleware for a path; returns what each layer saw, in order, and whether the rest ran. */
async function run(middleware: Middleware, path: string) {
  const ctx = { path, state: { seen: [] as string[] } } as unknown as ParameterizedContext & { state: { seen: string[] } };
  let reachedRest = false;
  await middleware(ctx, async () => {
    reachedRest = true;
  });
  return { seen: ctx.state.seen, reachedRest };
}

const layer =
  (name: string, { stop = false } = {}): Middleware =>
  async (ctx, next) => {
    (ctx.state as { seen: string[] }).seen.push(name);
    if (!stop) await next();
  };

test('firstSegment', () => {
  expect(firstSegment('/device/abc/def')).toBe('/device');
  expect(firstSegment('/device')).toBe('/device');
  expect(firstSegment('/jwks')).toBe('/jwks');
  expect(firstSegment('/.well-known/openid-configuration')).toBe('/.well-known');
  expect(firstSegment('/')).toBe('/');
});

test('a request runs only the stack of its first segment, in order, then the rest', async () => {
  const mw = bySegment([
    ['/device', [layer('device-1'), layer('device-2')]],
    ['/account', [layer('account')]],
  ]);
  expect(await run(mw, '/device/xyz')).toEqual({ seen: ['device-1', 'device-2'], reachedRest: true });
  expect(await run(mw, '/device')).toEqual({ seen: ['device-1', 'device-2'], reachedRest: true });
  expect(await run(mw, '/account/sessions')).toEqual({ seen: ['account'], reachedRest: true });
  // neighbours of a segment are not it
  expect(await run(mw, '/devices')).toEqual({ seen: [], reachedRest: true });
  expect(await run(mw, '/accounts/x')).toEqual({ seen: [], reachedRest: true });
  expect(await run(mw, '/token')).toEqual({ seen: [], reachedRest: true });
});

test('a layer that answers stops its stack and the rest', async () => {
  const mw = bySegment([['/device', [layer('gate', { stop: true }), layer('after')]]]);
  expect(await run(mw, '/device')).toEqual({ seen: ['gate'], reachedRest: false });
});

test('stacks given twice for one segment run one after the other', async () => {
  const mw = bySegment([
    ['/.well-known', [layer('first')]],
    ['/.well-known', [layer('second')]],
  ]);
  expect(await run(mw, '/.well-known/openid-configuration')).toEqual({ seen: ['first', 'second'], reachedRest: true });
});

test('only first segments are accepted', () => {
  expect(() => bySegment([['/admin/v1', [layer('x')]]])).toThrow(/not a first path segment/);
  expect(() => bySegment([['device', [layer('x')]]])).toThrow(/not a first path segment/);
});
