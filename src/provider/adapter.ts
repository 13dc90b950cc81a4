import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';

import { storeRegisteredClient } from '../clients/registered-clients.js';
import type { Store } from '../storage/types.js';
import { heldLookups } from './held-lookups.js';
import { withSessionInfo } from './session-info.js';

/** A store outage becomes OAuth's temporarily_unavailable with HTTP 503, never a 500. */
function rethrowOutage(err: unknown): never {
  if ((err as { code?: string }).code === 'ERR_STORE_UNAVAILABLE') {
    const out = new errors.CustomOIDCProviderError(
      'temporarily_unavailable',
      'the service is temporarily unavailable; try again shortly',
    );
    Object.assign(out, { status: 503, statusCode: 503, expose: true });
    throw out;
  }
  throw err;
}

type AdapterMethod = (...args: unknown[]) => Promise<unknown>;

type Observe = (model: string, op: string, seconds: number) => void;

/** How dynamically registered clients are stored (see storeRegisteredClient). */
interface RegistrationOptions {
  pkceOptional?: boolean;
}

/**
 * Times every adapter call and turns store outages into 503s. One `.then` rather than an async
 * wrapper: under oidc-provider's AsyncLocalStorage every promise runs async hooks, and a request
 * makes several of these calls.
 */
const instrument = (model: string, adapter: Adapter, observe?: Observe): Adapter =>
  Object.fromEntries(
    Object.entries(adapter).map(([op, fn]) => [
      op,
      (...args: unknown[]) => {
        const started = performance.now();
        const done = () => observe?.(model, op, (performance.now() - started) / 1000);
        let pending: Promise<unknown>;
        try {
          pending = (fn as AdapterMethod)(...args);
        } catch (err) {
          pending = Promise.reject(err);
        }
        return pending.then(
          (value) => {
            done();
            return value;
          },
          (err: unknown) => {
            done();
            return rethrowOutage(err);
          },
        );
      },
    ]),
  ) as unknown as Adapter;

function clientAdapter(store: Store, registration: RegistrationOptions): Adapter {
  return {
    // oidc-provider writes clients only for dynamic registration (RFC 7591/7592)
    upsert: async (_id, payload) => storeRegisteredClient(store.clients, payload as AdapterPayload & { client_id: string }, registration),
    find: (id) => store.clients.find(id) as Promise<AdapterPayload | undefined>,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: async () => undefined,
    destroy: async (id) => void (await store.clients.remove(id)),
    revokeByGrantId: async () => undefined,
  };
}

/**
 * Models found with their grant and session (Store findBound, held-lookups.ts): access tokens,
 * which oidc-provider checks against both right after finding them (userinfo, introspection).
 * Refresh tokens are checked so too, but finding them this way cost the refresh grant 8% more
 * CPU at 10 connections (bench/README.md, round ten), so they are found alone.
 */
const boundModels = new Set(['AccessToken']);

function modelAdapter(store: Store, name: string): Adapter {
  const records = store.model(name);
  const prepare = name === 'Session' ? withSessionInfo : (payload: AdapterPayload) => payload;
  const find = boundModels.has(name)
    ? (id: string) =>
        records.findBound(id).then((found) => {
          if (!found) return undefined;
          heldLookups.hold(found);
          return found.token as AdapterPayload;
        })
    : (id: string) => records.find(id) as Promise<AdapterPayload | undefined>;
  return {
    upsert: (id, payload, expiresIn) => {
      heldLookups.drop();
      return records.upsert(id, prepare(payload), expiresIn);
    },
    find,
    findByUid: (uid) => records.findByUid(uid) as Promise<AdapterPayload | undefined>,
    findByUserCode: (userCode) => records.findByUserCode(userCode) as Promise<AdapterPayload | undefined>,
    async consume(id) {
      heldLookups.drop();
      if (await records.consume(id)) return;
      const payload = await records.find(id);
      if (typeof payload?.grantId === 'string') await records.revokeByGrantId(payload.grantId);
      throw new errors.InvalidGrant(`${name === 'AuthorizationCode' ? 'authorization code' : 'token'} already consumed`);
    },
    destroy: (id) => {
      heldLookups.drop();
      return records.destroy(id);
    },
    revokeByGrantId: (grantId) => {
      heldLookups.drop();
      return records.revokeByGrantId(grantId);
    },
  };
}

/** The lookup a held answer stands in for, by model (held-lookups.ts). */
const heldLookup = { Grant: 'find', Session: 'findByUid' } as const;

/**
 * Answers a request's `Grant.find` and `Session.findByUid` from what its token's lookup brought
 * along (held-lookups.ts), before the timed adapter: an answer held is not a store operation.
 */
function withHeldAnswers(name: string, adapter: Adapter): Adapter {
  if (name !== 'Grant' && name !== 'Session') return adapter;
  const op = heldLookup[name];
  const ask = adapter[op];
  return {
    ...adapter,
    [op]: (key: string) => {
      const answer = heldLookups.take(name, key);
      return answer.held ? Promise.resolve(answer.value) : ask(key);
    },
  };
}

/**
 * oidc-provider's adapter factory over our store. Clients come from the clients table, so a
 * client the CLI adds is usable at once. `consume` is atomic in the store; the loser of a race
 * gets invalid_grant and the grant is revoked, as for any reuse. Store outages become 503s, and
 * every call that reaches the store is timed for the store-latency metric (a grant or session
 * answered from its token's lookup does not: withHeldAnswers).
 */
export function createAdapterFactory(store: Store, observe?: Observe, registration: RegistrationOptions = {}) {
  return (name: string): Adapter =>
    name === 'Client' ? instrument(name, clientAdapter(store, registration), observe) : withHeldAnswers(name, instrument(name, modelAdapter(store, name), observe));
}
