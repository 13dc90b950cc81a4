import { createHash, randomBytes } from 'node:crypto';

import type { Store } from '../storage/types.js';

/** What an emailed link may do; a link for one purpose never works for another. */
export type LinkPurpose = 'verify-email' | 'reset-password';

export interface LinkGrant {
  accountId: string;
  purpose: LinkPurpose;
  /** what the link is about besides the account (e.g. the email address it verifies) */
  data: Record<string, string>;
}

const hashOf = (token: string) => createHash('sha256').update(`idport-link:${token}`).digest('base64url');

/**
 * Links in emails (verify an address, reset a password): a random token in the link, only its
 * hash in the store (model `AccountLink`, with the link's lifetime), bound to one account and one
 * purpose, and single use: redeeming is the store's atomic consume, so of two clicks one wins.
 */
export function createAccountLinks(store: Store) {
  const records = store.model('AccountLink');

  const read = async (token: string, purpose: LinkPurpose) => {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const id = hashOf(token);
    const payload = await records.find(id);
    if (!payload || payload.consumed !== undefined || payload.purpose !== purpose || typeof payload.accountId !== 'string') return undefined;
    return { id, grant: { accountId: payload.accountId, purpose, data: (payload.data ?? {}) as Record<string, string> } };
  };

  return {
    /** A new link token for the account and purpose, valid `ttlSeconds`. */
    async issue(accountId: string, purpose: LinkPurpose, ttlSeconds: number, data: Record<string, string> = {}): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      await records.upsert(hashOf(token), { accountId, purpose, data }, ttlSeconds);
      return token;
    },

    /** What a link would do, without using it (for the page a link opens). */
    peek: async (token: string, purpose: LinkPurpose): Promise<LinkGrant | undefined> => (await read(token, purpose))?.grant,

    /** Uses the link: its grant once, then undefined (also when expired, unknown or for another purpose). */
    async redeem(token: string, purpose: LinkPurpose): Promise<LinkGrant | undefined> {
      const found = await read(token, purpose);
      return found && (await records.consume(found.id)) ? found.grant : undefined;
    },

  };
}

export type AccountLinks = ReturnType<typeof createAccountLinks>;
