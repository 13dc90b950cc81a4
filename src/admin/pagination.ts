import { z } from 'zod';

import { badRequest } from './problem.js';

export const listQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('items per page (1-200)'),
  cursor: z.string().max(512).optional().describe('next_cursor of the previous page'),
};

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last') });

/**
 * One page of a list sorted by `key` (unique per item): the items after the cursor's key. The
 * cursor is opaque to callers (the last key of the page, base64url).
 */
export function paginate<T>(all: T[], key: (item: T) => string, { limit, cursor }: { limit: number; cursor?: string | undefined }) {
  const sorted = [...all].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  let after: string | undefined;
  if (cursor !== undefined) {
    after = Buffer.from(cursor, 'base64url').toString('utf8');
    if (!after || Buffer.from(after, 'utf8').toString('base64url') !== cursor) throw badRequest('cursor is not one this API gave out', [{ path: 'cursor', message: 'unknown cursor' }]);
  }
  const rest = after === undefined ? sorted : sorted.filter((item) => key(item) > after!);
  const items = rest.slice(0, limit);
  const more = rest.length > limit;
  return { items, next: more ? Buffer.from(key(items[items.length - 1]!), 'utf8').toString('base64url') : null };
}
