import { randomUUID } from 'node:crypto';
import type { Account, AccountClaims, KoaContextWithOIDC } from 'oidc-provider';

import { type AccountRecord, type AccountStore } from '../storage/types.js';
import type { Config } from '../config/schema.js';
import { hashPassword, verifyDummy, verifyPassword } from './password.js';
import { checkNewPassword } from './password-policy.js';

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

const usernamePattern = /^[\p{L}\p{N}._@+-]{1,64}$/u;
const emailPattern = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/** The claims oidc-provider may release, from an account record; `sub` is the stable id. */
export function accountClaims(account: AccountRecord): AccountClaims {
  return {
    ...account.claims,
    sub: account.id,
    preferred_username: account.username,
    ...(account.name ? { name: account.name } : {}),
    ...(account.email ? { email: account.email, email_verified: account.emailVerified } : {}),
    updated_at: Math.floor(account.updatedAt / 1000),
  };
}

export const defaultPasswordPolicy: Config['passwords'] = { minLength: 8, maxLength: 256 };

export function createAccountService(accounts: AccountStore, passwords: Config['passwords'] = defaultPasswordPolicy) {
  return {
    async create(input: NewAccountInput): Promise<AccountRecord> {
      if (!usernamePattern.test(input.username)) {
        throw new AccountInputError('username must be 1-64 letters, digits or . _ @ + -');
      }
      if (input.email !== undefined && !emailPattern.test(input.email)) {
        throw new AccountInputError('email is not a valid address');
      }
      const problem = checkNewPassword(input.password, passwords, input);
      if (problem) throw new AccountInputError(problem);
      return accounts.create({
        id: randomUUID(),
        username: input.username,
        email: input.email ?? null,
        emailVerified: input.emailVerified ?? false,
        name: input.name ?? null,
        passwordHash: await hashPassword(input.password),
        claims: input.claims ?? {},
      });
    },

    async setPassword(id: string, password: string): Promise<boolean> {
      const account = await accounts.findById(id);
      if (!account) return false;
      const problem = checkNewPassword(password, passwords, { username: account.username, email: account.email ?? undefined });
      if (problem) throw new AccountInputError(problem);
      return accounts.setPasswordHash(id, await hashPassword(password));
    },

    /**
     * Checks a username-or-email and password. Returns the account or undefined, spending about
     * the same time either way.
     */
    async authenticate(login: string, password: string): Promise<AccountRecord | undefined> {
      const account = login ? await accounts.findByLogin(login) : undefined;
      if (!account) return verifyDummy(password).then(() => undefined);
      return (await verifyPassword(account.passwordHash, password)) ? account : undefined;
    },

    find: (id: string) => accounts.findById(id),

    /** oidc-provider's findAccount hook. */
    async findAccount(_ctx: KoaContextWithOIDC, sub: string): Promise<Account | undefined> {
      const account = await accounts.findById(sub);
      if (!account) return undefined;
      return { accountId: account.id, claims: () => accountClaims(account) };
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
