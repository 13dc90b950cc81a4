import { z } from 'zod';

import { badRequest } from './problem.js';

export const listQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('items per page (1-200)'),
  cursor: z.string().max(512).optional().describe('next_cursor of the previous page'),
};

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last') });

const badCursor = () => badRequest('cursor is not one this API gave out', [{ path: 'cursor', message: 'unknown cursor' }]);

/** The opaque cursor of a page's last key (base64url). */
export const encodeCursor = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');

/** The key inside a cursor; a 400 problem for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!key || encodeCursor(key) !== cursor) throw badCursor();
  return key;
}

/** A two-part key (e.g. a normalised username and an id) as one cursor: NUL-separated inside. */
export const encodePairCursor = ([first, second]: readonly [string, string]): string => encodeCursor(`${first}\0${second}`);

/** The two parts of a pair cursor; a 400 problem for anything else. */
export function decodePairCursor(cursor: string): [string, string] {
  const parts = decodeCursor(cursor).split('\0');
  if (parts.length !== 2) throw badCursor();
  return [parts[0]!, parts[1]!];
}

/**
 * One page of a list sorted by `key` (unique per item): the items after the cursor's key. The
 * cursor is opaque to callers (the last key of the page, base64url). It sorts the whole list in
 * memory: for short lists (clients, APIs); users are paged by the store (resources/users.ts).
 */
export function paginate<T>(all: T[], key: (item: T) => string, { limit, cursor }: { limit: number; cursor?: string | undefined }) {
  const sorted = [...all].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  const rest = after === undefined ? sorted : sorted.filter((item) => key(item) > after!);
  const items = rest.slice(0, limit);
  const more = rest.length > limit;
  return { items, next: more ? encodeCursor(key(items[items.length - 1]!)) : null };
}
