import Provider, { type AdapterPayload } from 'oidc-provider';

import type { BoundRecords } from '../storage/types.js';
import { boundKeys } from '../storage/bound-keys.js';

/**
 * What a token lookup brought along for the rest of its request (Store `findBound`): the token's
 * grant and session, handed to that request's next `Grant.find` and `Session.findByUid` instead
 * of asking the store again. oidc-provider checks every access token it finds against both
 * (userinfo, introspection), so a request saves two trips to the store (SQLite: two read batches,
 * each a turn of the event loop later) and is judged on one snapshot.
 *
 * - Per request: kept in the state of oidc-provider's request context (its AsyncLocalStorage),
 *   never shared, and let go with that state when the request is (release-request.ts). (A
 *   WeakMap keyed by the context kept them until the next full collection: the context outlives
 *   its request until then. Measured: 380 bytes more promoted per userinfo request.)
 * - Each answer is given once, for exactly the key it was read for.
 * - Dropped when the request writes through the adapter: a request reads its own writes.
 */
export interface HeldLookups {
  /** Keeps the token's grant and session for the current request (nothing outside one). */
  hold(found: BoundRecords): void;
  /**
   * The held answer for `Grant.find(id)` or `Session.findByUid(uid)` in this request, taken (a
   * second lookup asks the store); `held: false` when there is none. The answer may be undefined:
   * the grant or session was not there when the token was read.
   */
  take(model: 'Grant' | 'Session', key: string): { held: true; value: AdapterPayload | undefined } | { held: false };
  /** Forgets what the current request holds (before it writes). */
  drop(): void;
}

type Answers = Map<string, AdapterPayload | undefined>;

/** A request as far as this module sees it: Koa's per-request `state` (undefined once released). */
export interface RequestWithState {
  state?: Record<symbol, unknown>;
}

const answersKey = Symbol('idport.heldLookups');

const keyOf = (model: 'Grant' | 'Session', key: string) => `${model}\u0000${key}`;

/** `request()`: the current request, or undefined outside one. */
export function createHeldLookups(request: () => RequestWithState | undefined): HeldLookups {
  return {
    hold(found) {
      const state = request()?.state;
      if (!state) return;
      const { grantId, sessionUid } = boundKeys(found.token);
      const answers: Answers = new Map();
      if (grantId !== undefined) answers.set(keyOf('Grant', grantId), found.grant as AdapterPayload | undefined);
      if (sessionUid !== undefined) answers.set(keyOf('Session', sessionUid), found.session as AdapterPayload | undefined);
      state[answersKey] = answers;
    },
    take(model, key) {
      const answers = request()?.state?.[answersKey] as Answers | undefined;
      const k = keyOf(model, key);
      if (!answers?.has(k)) return { held: false };
      const value = answers.get(k);
      answers.delete(k);
      return { held: true, value };
    },
    drop() {
      const state = request()?.state;
      if (state) delete state[answersKey];
    },
  };
}

/** Per oidc-provider request: its AsyncLocalStorage context (outside its routes, none). */
export const heldLookups = createHeldLookups(() => Provider.ctx as RequestWithState | undefined);
