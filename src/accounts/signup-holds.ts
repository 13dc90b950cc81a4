import type { AccountRecord, Store } from '../storage/types.js';

/**
 * Which accounts signed up themselves and have not verified their email since: one record per
 * such account (model `SignUp`, keyed by the account id, no expiry), written at sign-up and
 * removed when a verification link is used. `signup.requireVerifiedEmail` holds the password
 * sign-ins of exactly these accounts, so accounts an operator added (`idport users add`) never are.
 */
export function createSignupHolds(store: Store) {
  const records = store.model('SignUp');
  return {
    /** Remembers that the account signed up (and has not verified its address yet). */
    mark: (accountId: string) => records.upsert(accountId, { accountId, at: Date.now() }),

    /** Whether the account signed up and its address is still unverified. */
    async held(account: AccountRecord): Promise<boolean> {
      return !account.emailVerified && (await records.find(account.id)) !== undefined;
    },

    /** The account verified its address: it is held no more, whatever happens to its email later. */
    release: (accountId: string) => records.destroy(accountId),
  };
}

export type SignupHolds = ReturnType<typeof createSignupHolds>;
