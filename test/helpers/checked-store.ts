/**
 * A store that checks oidc-provider's use of it on every write (as oidc-provider's own test
 * adapter does): ids, kinds, lifetimes and payload shapes, and that what was written reads back.
 * Cheap, and it finds adapter and integration bugs that flow tests pass over. A violation fails
 * the operation (the request answers 500) and is recorded for the server's stop() to report.
 */
import { isDeepStrictEqual } from 'node:util';

import type { OidcModelStore, OidcPayload, Store } from '../../src/storage/types.js';

const consumable = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest', 'ReplayDetection', 'AccountLink']);

/** JSON holds the payload as it is: no functions, class instances or non-finite numbers (undefined fields are dropped). */
function plainJson(value: unknown): boolean {
  if (value === null || value === undefined || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(plainJson);
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every(plainJson);
}

function checkUpsert(model: string, id: string, payload: OidcPayload, expiresIn: number | undefined): string | undefined {
  if (typeof id !== 'string' || id.length === 0 || id.length > 1024) return `id ${String(id)} is not a string of 1 to 1,024 characters`;
  if (!plainJson(payload)) return 'payload is not plain JSON';
  if (payload.kind !== undefined && payload.kind !== model) return `payload.kind ${String(payload.kind)} is not ${model}`;
  if (payload.jti !== undefined && payload.jti !== id) return `payload.jti ${String(payload.jti)} is not the id ${id}`;
  for (const field of ['grantId', 'uid', 'userCode', 'accountId'] as const) {
    if (payload[field] !== undefined && typeof payload[field] !== 'string') return `${field} is not a string`;
  }
  if (expiresIn !== undefined && (!Number.isInteger(expiresIn) || expiresIn <= 0)) return `expiresIn ${expiresIn} is not a positive whole number of seconds`;
  if (typeof payload.exp === 'number' && expiresIn !== undefined && Math.abs(payload.exp - (Date.now() / 1000 + expiresIn)) > 5) {
    return `payload.exp ${payload.exp} does not match expiresIn ${expiresIn}`;
  }
  return undefined;
}

export interface CheckedStore extends Store {
  /** every invariant broken so far */
  readonly violations: string[];
}

export function checkedStore(store: Store): CheckedStore {
  const violations: string[] = [];
  const fail = (model: string, op: string, problem: string): never => {
    const message = `store invariant broken: ${model}.${op}: ${problem}`;
    violations.push(message);
    throw new Error(message);
  };

  const checkedModel = (name: string): OidcModelStore => {
    const records = store.model(name);
    return {
      ...records,
      async upsert(id, payload, expiresIn) {
        const problem = checkUpsert(name, id, payload, expiresIn);
        if (problem) fail(name, 'upsert', problem);
        await records.upsert(id, payload, expiresIn);
        const back = await records.find(id);
        if (!isDeepStrictEqual(back, JSON.parse(JSON.stringify(payload)))) fail(name, 'upsert', `${id} does not read back as written`);
      },
      async consume(id) {
        if (!consumable.has(name)) fail(name, 'consume', 'this model is never consumed');
        const won = await records.consume(id);
        if (won && typeof (await records.find(id))?.consumed !== 'number') fail(name, 'consume', `${id} consumed but reads back without consumed`);
        return won;
      },
      async findByAccount(accountId) {
        const found = await records.findByAccount(accountId);
        if (found.some(({ payload }) => payload.accountId !== accountId)) fail(name, 'findByAccount', `a record of another account for ${accountId}`);
        return found;
      },
    };
  };

  return Object.assign(Object.create(store) as Store, { model: checkedModel, violations });
}
