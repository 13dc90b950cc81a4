import { randomUUID } from 'node:crypto';
import type { Account, KoaContextWithOIDC } from 'oidc-provider';

import { configDefaults, type Config } from '../config/schema.js';
import { normalizeLogin } from '../storage/normalize.js';
import type { AccountPageKey, AccountPageQuery, AccountRecord, Store } from '../storage/types.js';
import { accountClaims, checkExtraClaims } from './account-claims.js';
import { createPasswords, noPassword, type Passwords } from './password.js';
import { checkNewPassword } from './password-policy.js';
import { createSignIns, type EndedSignIns, type SessionsEnded } from './sign-ins.js';
import { createSignupHolds } from './signup-holds.js';

export { accountClaims } from './account-claims.js';

export class AccountInputError extends Error {
  readonly code = 'ERR_ACCOUNT_INPUT';
}

export interface NewAccountInput {
  username: string;
  password: string;
  email?: string | undefined;
  name?: string | undefined;
  emailVerified?: boolean | undefined;
  claims?: Record<string, unknown> | undefined;
}

export interface AccountChanges {
  name?: string | null | undefined;
  claims?: Record<string, unknown> | undefined;
  email?: string | null | undefined;
  emailVerified?: boolean | undefined;
}

export const usernamePattern = /^[\p{L}\p{N}._@+-]{1,64}$/u;
export const emailPattern = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export const defaultPasswordPolicy: Config['passwords'] = configDefaults().passwords;

/** Throws AccountInputError naming what is wrong with a new account's username, email or claims. */
function checkAccountInput(input: Omit<NewAccountInput, 'password'>): void {
  if (!usernamePattern.test(input.username)) throw new AccountInputError('username must be 1-64 letters, digits or . _ @ + -');
  if (input.email !== undefined && !emailPattern.test(input.email)) throw new AccountInputError('email is not a valid address');
  const claimsProblem = checkExtraClaims(input.claims ?? {});
  if (claimsProblem) throw new AccountInputError(claimsProblem);
}

/** Where the page after `account` starts (its key in `page`'s order: the store's normalised username, then id). */
export const accountPageKey = (account: AccountRecord): AccountPageKey => ({ usernameNorm: normalizeLogin(account.username), id: account.id });

const newRecord = (input: Omit<NewAccountInput, 'password'>, passwordHash: string) => ({
  id: randomUUID(),
  username: input.username,
  email: input.email ?? null,
  emailVerified: input.emailVerified ?? false,
  name: input.name ?? null,
  passwordHash,
  claims: input.claims ?? {},
});

/**
 * Accounts: creation with our input and password rules, password changes, removal. A credential
 * change or removal ends what the old credential started: every session and grant of the account.
 */
export function createAccountService(
  store: Store,
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength'> & Partial<Config['passwords']> = defaultPasswordPolicy,
  passwords: Passwords = createPasswords({ maxQueued: policy.maxWaitingHashes ?? defaultPasswordPolicy.maxWaitingHashes }),
  { onSessionsEnded }: { onSessionsEnded?: SessionsEnded | undefined } = {},
) {
  const { accounts } = store;
  const signIns = createSignIns(store, onSessionsEnded);
  return {
    passwords,

    async create(input: NewAccountInput): Promise<AccountRecord> {
      checkAccountInput(input);
      const problem = checkNewPassword(input.password, policy, input);
      if (problem) throw new AccountInputError(problem);
      return accounts.create(newRecord(input, await passwords.hash(input.password)));
    },

    /**
     * An account with no password, made at a first sign-in through an upstream (it signs in
     * there, or sets a password on /account). Same input rules.
     */
    async createWithoutPassword(input: Omit<NewAccountInput, 'password'>): Promise<AccountRecord> {
      checkAccountInput(input);
      return accounts.create(newRecord(input, noPassword));
    },

    /** Sets a new password and ends every session and grant the account had; undefined if no such account. */
    async setPassword(id: string, password: string): Promise<EndedSignIns | undefined> {
      const account = await accounts.findById(id);
      if (!account) return undefined;
      const problem = checkNewPassword(password, policy, { username: account.username, email: account.email ?? undefined });
      if (problem) throw new AccountInputError(problem);
      if (!(await accounts.setPasswordHash(id, await passwords.hash(password)))) return undefined;
      return signIns.endAll(id);
    },

    /**
     * Removes every passkey, TOTP secret and recovery code of the account (an admin's reset) and,
     * as for any credential change, ends its sessions and grants; undefined if no such account.
     */
    async resetFactors(id: string): Promise<EndedSignIns | undefined> {
      if (!(await accounts.findById(id))) return undefined;
      await store.factors.removeAll(id);
      return signIns.endAll(id);
    },

    /** Removes the account, its remembered consents, factors, sign-up hold, upstream links, sessions and grants; undefined if no such account. */
    async remove(id: string): Promise<EndedSignIns | undefined> {
      if (!(await accounts.remove(id))) return undefined;
      await store.consents.forgetAccount(id);
      await store.factors.removeAll(id);
      await createSignupHolds(store).release(id);
      await store.upstreamLinks.removeAccount(id);
      return signIns.endAll(id);
    },

    /**
     * Checks a username-or-email and password, with no brute-force guard: for trusted callers
     * (the CLI, tests). Sign-in pages go through sign-in.ts.
     */
    async authenticate(login: string, password: string): Promise<AccountRecord | undefined> {
      const account = login ? await accounts.findByLogin(login) : undefined;
      return account && (await passwords.verify(account.passwordHash, password)) ? account : undefined;
    },

    /**
     * Sets a new email, not verified until its link is opened (the user's own change on
     * /account); DuplicateError('email') when it is another account's login. The account as it is now.
     */
    async changeEmail(id: string, email: string): Promise<AccountRecord | undefined> {
      if (!emailPattern.test(email)) throw new AccountInputError('email is not a valid address');
      return (await accounts.setEmail(id, email, false)) ? accounts.findById(id) : undefined;
    },

    /**
     * An operator's change of the name, the further claims (replaced as a whole), or the email
     * (`emailVerified` says whether it counts as verified, default not). DuplicateError('email')
     * when the email is another account's login; undefined when there is no such account.
     */
    async update(id: string, changes: AccountChanges): Promise<AccountRecord | undefined> {
      if (changes.email !== undefined && changes.email !== null && !emailPattern.test(changes.email)) throw new AccountInputError('email is not a valid address');
      const claimsProblem = changes.claims ? checkExtraClaims(changes.claims) : undefined;
      if (claimsProblem) throw new AccountInputError(claimsProblem);
      if (changes.name !== undefined && changes.name !== null && (changes.name.length < 1 || changes.name.length > 256)) throw new AccountInputError('name must be 1-256 characters');
      const account = await accounts.findById(id);
      if (!account) return undefined;
      if (changes.email !== undefined && !(await accounts.setEmail(id, changes.email, changes.email !== null && (changes.emailVerified ?? false)))) return undefined;
      else if (changes.email === undefined && changes.emailVerified !== undefined && account.email !== null) {
        await accounts.setEmail(id, account.email, changes.emailVerified);
      }
      if (changes.name !== undefined || changes.claims !== undefined) {
        if (!(await accounts.setProfile(id, { ...(changes.name !== undefined ? { name: changes.name } : {}), ...(changes.claims ? { claims: changes.claims } : {}) }))) return undefined;
      }
      return accounts.findById(id);
    },

    find: (id: string) => accounts.findById(id),
    findByLogin: (login: string) => accounts.findByLogin(login),
    /** Every account at once: for the CLI and small stores; the admin API pages with `page`. */
    list: () => accounts.list(),
    /** One page of accounts by normalised username then id (see AccountStore.page): reads that page, not every account. */
    page: (query: AccountPageQuery) => accounts.page(query),

    /** oidc-provider's findAccount hook. */
    async findAccount(_ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> {
      const account = await accounts.findById(sub);
      if (!account) return undefined;
      return { accountId: account.id, claims: () => accountClaims(account) };
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
