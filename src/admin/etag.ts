import { createHash } from 'node:crypto';

import { preconditionFailed } from './problem.js';

/** A strong entity tag of a resource's JSON representation. */
export const etagOf = (representation: unknown): string => `"${createHash('sha256').update(JSON.stringify(representation)).digest('base64url').slice(0, 27)}"`;

/**
 * If-Match (RFC 9110 §13.1.1): the update goes ahead only if the caller saw the resource as it is
 * now. Without the header it goes ahead (the caller chose not to guard it).
 */
export function checkIfMatch(ifMatch: string | undefined, current: unknown): void {
  if (ifMatch === undefined) return;
  const tags = ifMatch.split(',').map((t) => t.trim());
  if (tags.includes('*')) return;
  if (!tags.includes(etagOf(current))) throw preconditionFailed('the resource has changed since you read it (If-Match does not match its ETag): read it again, then retry');
}
