/**
 * The filter and update documents the MongoDB store sends, as pure functions so they can be
 * unit-tested without a server. Every value placed in a query is a string or Date we produced
 * or checked (see `asKey`): never a request object, so no operator injection.
 */

/** Refuses anything but a non-empty string as a lookup value. */
export function asKey(value: unknown, what = 'key'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) {
    throw new TypeError(`${what} must be a non-empty string`);
  }
  return value;
}

/** Not expired at `now`: no expiry, or expiry in the future (the TTL monitor lags up to a minute). */
export const notExpired = (now: Date) => ({ $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] });

export const liveById = (id: string, now: Date) => ({ _id: asKey(id, 'id'), ...notExpired(now) });

/**
 * A string field with a partial index (`partialFilterExpression: { field: { $type: 'string' } }`,
 * see indexes.ts). MongoDB uses a partial index only for a query that contains its filter
 * expression, so the lookup repeats it; an equality alone does not reliably imply the $type.
 */
const onPartialIndex = (value: string, what: string) => ({ $eq: asKey(value, what), $type: 'string' as const });

export const liveByField = (field: 'uid' | 'userCode' | 'accountId', value: string, now: Date) => ({
  [field]: onPartialIndex(value, field),
  ...notExpired(now),
});

/** Matches only a live, not yet consumed record: the single conditional update that makes consume atomic. */
export const consumable = (id: string, now: Date) => ({ _id: asKey(id, 'id'), consumedAt: null, ...notExpired(now) });

export const consumeUpdate = (now: Date) => ({ $set: { consumedAt: now } });

export const byGrant = (grantId: string) => ({ grantId: onPartialIndex(grantId, 'grantId') });

/** Active keys of a kind carry `active: true`; a unique index on (kind, slot) where active makes bootstrap race-safe. */
export const activeKeys = <K extends string>(kind: K) => ({ kind: asKey(kind, 'kind') as K, active: true as const });

/** Keys of a kind that are neither expired nor staged (half-way through a rotation). */
export const usableKeys = <K extends string>(kind: K, now: Date) => ({ kind: asKey(kind, 'kind') as K, staged: { $ne: true as const }, ...notExpired(now) });

export const retireUpdate = (now: Date, keepUntil: Date) => ({
  $set: { retiredAt: now, expiresAt: keepUntil },
  $unset: { active: '' as const },
});

/** `text` as a regular expression that matches it literally (every metacharacter escaped). */
export const literalRegex = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/**
 * The filter of a page of accounts (sorted by `accountPageSort`, read through the index
 * `usernameOrder`): after the key — the `$gte` bounds the index scan, the `$or` drops the key's own
 * username below its id — and containing `contains` in username, email or name, any case.
 */
export function accountPageFilter({ after, contains }: { after?: { usernameNorm: string; id: string } | undefined; contains?: string | undefined }) {
  const parts: Record<string, unknown>[] = [];
  if (after) {
    const usernameNorm = String(after.usernameNorm);
    parts.push({ usernameNorm: { $gte: usernameNorm }, $or: [{ usernameNorm: { $gt: usernameNorm } }, { _id: { $gt: String(after.id) } }] });
  }
  if (contains !== undefined) {
    const pattern = { $regex: literalRegex(String(contains)), $options: 'i' };
    parts.push({ $or: [{ username: pattern }, { email: pattern }, { name: pattern }] });
  }
  return parts.length === 0 ? {} : parts.length === 1 ? parts[0]! : { $and: parts };
}

export const accountPageSort = { usernameNorm: 1, _id: 1 } as const;
