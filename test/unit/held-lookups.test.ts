/**
 * A token's grant and session, read with it, are answered to its own request only (held-lookups.ts):
 * never to another request, once, for exactly the key they were read for, and not after the
 * request writes.
 */
import { createHeldLookups, type RequestWithState } from '../../src/provider/held-lookups.js';

const token = { jti: 'at', grantId: 'g1', sessionUid: 'u1', expiresWithSession: true };
const grant = { jti: 'g1', accountId: 'a' };
const session = { jti: 's1', uid: 'u1', accountId: 'a' };

/** A request as Koa gives it: with its own `state`. */
const request = (): RequestWithState => ({ state: {} });

function requests() {
  let current: RequestWithState | undefined;
  const lookups = createHeldLookups(() => current);
  return {
    lookups,
    /** runs `fn` as request `ctx` */
    as<T>(ctx: RequestWithState | undefined, fn: () => T): T {
      current = ctx;
      try {
        return fn();
      } finally {
        current = undefined;
      }
    },
  };
}

test('the request that read the token gets its grant and session, once each', () => {
  const { lookups, as } = requests();
  const mine = request();
  as(mine, () => lookups.hold({ token, grant, session }));
  expect(as(mine, () => lookups.take('Session', 'u1'))).toEqual({ held: true, value: session });
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: true, value: grant });
  // a second lookup asks the store
  expect(as(mine, () => lookups.take('Session', 'u1'))).toEqual({ held: false });
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: false });
});

test('another request, or code outside any request, never gets them', () => {
  const { lookups, as } = requests();
  const mine = request();
  const other = request();
  as(mine, () => lookups.hold({ token, grant, session }));
  expect(as(other, () => lookups.take('Grant', 'g1'))).toEqual({ held: false });
  expect(as(other, () => lookups.take('Session', 'u1'))).toEqual({ held: false });
  expect(as(undefined, () => lookups.take('Grant', 'g1'))).toEqual({ held: false });
  // ... and outside a request nothing is held at all
  as(undefined, () => lookups.hold({ token: { ...token, grantId: 'g2' }, grant, session }));
  expect(as(mine, () => lookups.take('Grant', 'g2'))).toEqual({ held: false });
  // still there for their own request
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: true, value: grant });
});

test('a released request (its state let go) holds nothing and gets nothing, without failing', () => {
  const { lookups, as } = requests();
  const mine: RequestWithState = request();
  as(mine, () => lookups.hold({ token, grant, session }));
  mine.state = undefined;
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: false });
  as(mine, () => lookups.hold({ token, grant, session }));
  as(mine, () => lookups.drop());
  expect(as(mine, () => lookups.take('Session', 'u1'))).toEqual({ held: false });
});

test('only for the key and model they were read for', () => {
  const { lookups, as } = requests();
  const mine = request();
  as(mine, () => lookups.hold({ token, grant, session }));
  expect(as(mine, () => lookups.take('Grant', 'u1'))).toEqual({ held: false });
  expect(as(mine, () => lookups.take('Session', 'g1'))).toEqual({ held: false });
  expect(as(mine, () => lookups.take('Grant', 'g1 '))).toEqual({ held: false });
  expect(as(mine, () => lookups.take('Session', 's1'))).toEqual({ held: false });
});

test('a grant or session that was not there is held as not there', () => {
  const { lookups, as } = requests();
  const mine = request();
  as(mine, () => lookups.hold({ token, grant: undefined, session: undefined }));
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: true, value: undefined });
  expect(as(mine, () => lookups.take('Session', 'u1'))).toEqual({ held: true, value: undefined });
});

test('a token not bound to its session (offline) holds no session answer', () => {
  const { lookups, as } = requests();
  const mine = request();
  as(mine, () => lookups.hold({ token: { ...token, expiresWithSession: false }, grant, session: undefined }));
  expect(as(mine, () => lookups.take('Session', 'u1'))).toEqual({ held: false });
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: true, value: grant });
});

test('after the request writes, it asks the store again; a later token lookup holds anew', () => {
  const { lookups, as } = requests();
  const mine = request();
  const other = request();
  as(mine, () => lookups.hold({ token, grant, session }));
  as(other, () => lookups.hold({ token, grant, session }));
  as(mine, () => lookups.drop());
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: false });
  expect(as(mine, () => lookups.take('Session', 'u1'))).toEqual({ held: false });
  // another request's writes do not touch what this one holds
  expect(as(other, () => lookups.take('Grant', 'g1'))).toEqual({ held: true, value: grant });
  as(mine, () => lookups.hold({ token, grant: { ...grant, accountId: 'b' }, session }));
  expect(as(mine, () => lookups.take('Grant', 'g1'))).toEqual({ held: true, value: { ...grant, accountId: 'b' } });
});
