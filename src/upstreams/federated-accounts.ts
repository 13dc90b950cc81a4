import { createHash } from 'node:crypto';

import { AccountInputError, usernamePattern, type AccountService } from '../accounts/account-service.js';
import { hasPassword } from '../accounts/password.js';
import { checkExtraClaims } from '../accounts/account-claims.js';
import { DuplicateError, type AccountRecord, type Store, type UpstreamRecord } from '../storage/types.js';
import type { UpstreamProfile } from './profile.js';

/** What an upstream sign-in comes to, for our side. */
export type Resolution =
  /** the subject is linked to this account */
  | { kind: 'linked'; account: AccountRecord }
  /** linked just now, on the upstream's verified email (an upstream the operator trusts for that) */
  | { kind: 'linked-by-email'; account: AccountRecord }
  /** made just now (just-in-time) and linked */
  | { kind: 'created'; account: AccountRecord }
  /** an account has this verified email: the user must prove it (password or passkey) before it is linked */
  | { kind: 'prove'; account: AccountRecord }
  | { kind: 'refused'; reason: 'no-account' | 'email-in-use' };

const sameEmail = (account: AccountRecord, email: string) => account.email?.toLowerCase() === email.toLowerCase();

/**
 * Accounts of users who sign in through upstreams: the one rule for who a subject becomes.
 *
 * - A linked subject is its account, and nothing else ever is.
 * - An unknown subject whose email an account has is linked to it only when the upstream says the
 *   email is verified, and then only after the user proves the account — or at once when the
 *   operator trusts this upstream for that (`linkByVerifiedEmail`) AND our account's own email is
 *   verified (else whoever signed up with someone's address first would get their sign-ins).
 * - An unverified upstream email never links, and never makes a second account with that email.
 * - Otherwise a new account, if the upstream allows just-in-time accounts; with the upstream's
 *   email only if the upstream verified it.
 */
export function createFederatedAccounts(store: Pick<Store, 'upstreamLinks'>, accounts: AccountService) {
  const { upstreamLinks } = store;

  const usernameFor = (upstream: UpstreamRecord, profile: UpstreamProfile, email: string | undefined) => {
    const hashed = `${upstream.id}-${createHash('sha256').update(profile.subject).digest('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}`;
    const wanted = email ?? '';
    return { wanted: usernamePattern.test(wanted) ? wanted : hashed, fallback: hashed };
  };

  const createFor = async (upstream: UpstreamRecord, profile: UpstreamProfile): Promise<AccountRecord> => {
    const claims = Object.fromEntries(Object.entries(profile.claims).filter(([name, value]) => !checkExtraClaims({ [name]: value })));
    // Only an email the upstream verified becomes the account's (and its username): else whoever
    // the upstream lets claim someone's address would hold an account with it, which its owner
    // would be sent to by sign-up ("reset your password"), and which the upstream's user still
    // signs in to (a pre-hijacked account).
    const email = profile.emailVerified ? profile.email : undefined;
    const input = { email, emailVerified: email !== undefined, name: profile.name, claims };
    const { wanted, fallback } = usernameFor(upstream, profile, email);
    try {
      return await accounts.createWithoutPassword({ ...input, username: wanted });
    } catch (err) {
      // someone has that username (not the email: that was checked): the subject's own name then
      if (err instanceof DuplicateError && err.field === 'username' && wanted !== fallback) return accounts.createWithoutPassword({ ...input, username: fallback });
      throw err;
    }
  };

  return {
    async resolve(upstream: UpstreamRecord, profile: UpstreamProfile): Promise<Resolution> {
      const link = await upstreamLinks.find(upstream.id, profile.subject);
      const linked = link && (await accounts.find(link.accountId));
      if (linked) {
        await upstreamLinks.touch(upstream.id, profile.subject);
        return { kind: 'linked', account: linked };
      }
      // a link left to an account that is gone (removed between the account and its links): the
      // subject is unknown again (kept, it would fail every new link, and the retry below forever)
      if (link) await upstreamLinks.unlink(link.accountId, upstream.id, profile.subject);
      const holder = profile.email ? await accounts.findByLogin(profile.email) : undefined;
      if (holder && profile.email && sameEmail(holder, profile.email)) {
        if (!profile.emailVerified) return { kind: 'refused', reason: 'email-in-use' };
        if (upstream.linkByVerifiedEmail && holder.emailVerified) {
          await this.link(upstream, profile.subject, holder.id);
          return { kind: 'linked-by-email', account: holder };
        }
        return { kind: 'prove', account: holder };
      }
      if (!upstream.jit) return { kind: 'refused', reason: 'no-account' };
      let account: AccountRecord;
      try {
        account = await createFor(upstream, profile);
      } catch (err) {
        // the email belongs to an account as its username, or a second sign-in made it first
        if (err instanceof DuplicateError || err instanceof AccountInputError) return { kind: 'refused', reason: 'email-in-use' };
        throw err;
      }
      try {
        await this.link(upstream, profile.subject, account.id);
      } catch (err) {
        // the same subject signed in twice at once: the other sign-in's account stands
        await accounts.remove(account.id);
        if (err instanceof DuplicateError) return this.resolve(upstream, profile);
        throw err;
      }
      return { kind: 'created', account };
    },

    /** Links the subject to the account (DuplicateError('subject') if it is linked already). */
    link: (upstream: UpstreamRecord, subject: string, accountId: string) => upstreamLinks.link(upstream.id, subject, accountId),

    linksOf: (accountId: string) => upstreamLinks.listByAccount(accountId),

    /**
     * Removes a link, unless it is the account's last way to sign in (no password, no passkey,
     * no other link): 'last' then. False when the account has no such link.
     */
    async unlink(account: AccountRecord, upstreamId: string, subject: string, passkeys: number): Promise<boolean | 'last'> {
      const links = await upstreamLinks.listByAccount(account.id);
      if (!links.some((l) => l.upstreamId === upstreamId && l.subject === subject)) return false;
      if (!hasPassword(account) && passkeys === 0 && links.length === 1) return 'last';
      return upstreamLinks.unlink(account.id, upstreamId, subject);
    },
  };
}

export type FederatedAccounts = ReturnType<typeof createFederatedAccounts>;
