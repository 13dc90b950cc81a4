import { randomBytes } from 'node:crypto';

import type { Config } from '../config/schema.js';
import { clientAddressKey } from '../limits/client-address.js';
import { countHit, type WindowLimit } from '../limits/fixed-window.js';
import { normalizeLogin } from '../storage/normalize.js';
import { DuplicateError, type AccountRecord, type Store } from '../storage/types.js';
import { AccountInputError, emailPattern, usernamePattern, type AccountService } from './account-service.js';
import { HashingBusyError } from './password.js';
import { passwordProblem, type PasswordProblem } from './password-policy.js';
import { createSignupHolds } from './signup-holds.js';

/** Sign-up attempts that reach the account store (creations and taken names), per client address (IPv6: /64), per hour. */
export const signupLimit: WindowLimit = { limit: 5, windowSeconds: 3600 };

export const maxNameLength = 100;

/** What the sign-up form sends, as typed. */
export interface SignupInput {
  email: string;
  name: string;
  /** empty: the email address is the username (or, if it cannot be one, a generated name) */
  username: string;
  password: string;
}

export type SignupField = 'email' | 'name' | 'username' | 'password';

/** One thing wrong with the form: its field and a catalogue key (with its values) saying what. */
export interface SignupProblem {
  field: SignupField;
  key: string;
  params?: Record<string, string | number>;
}

export type SignupResult =
  | { outcome: 'created'; account: AccountRecord }
  | { outcome: 'invalid'; problems: SignupProblem[] }
  /** the address's sign-up attempts are used up; nothing was looked up or created */
  | { outcome: 'limited'; retryAfter: number }
  /** the password hasher is full; nothing was created */
  | { outcome: 'busy'; retryAfter: number };

export interface SignupServiceDeps {
  store: Store;
  accounts: AccountService;
  signup: Config['signup'];
  passwords: Pick<Config['passwords'], 'minLength' | 'maxLength'>;
}

const passwordKeys: Record<PasswordProblem['code'], string> = {
  too_short: 'signup.errors.passwordTooShort',
  too_long: 'signup.errors.passwordTooLong',
  common: 'signup.errors.passwordCommon',
  own_name: 'signup.errors.passwordOwn',
};

const domainOf = (email: string) => normalizeLogin(email.slice(email.lastIndexOf('@') + 1));

/** The username of an account signing up without one: its email when that is a valid username. */
export const defaultUsername = (email: string): string => (usernamePattern.test(email) ? email : `user-${randomBytes(6).toString('hex')}`);

/**
 * Creating one's own account (signup.enabled): our username, email and password rules with their
 * reasons in words, the allowed email domains, and a limit per client address on attempts that
 * reach the store. Accounts start with an unverified email and are marked as signed up
 * (signup-holds.ts). Saying that an address or username is taken is the only thing it reveals.
 */
export function createSignupService({ store, accounts, signup, passwords }: SignupServiceDeps) {
  const holds = createSignupHolds(store);
  const allowedDomains = new Set(signup.allowedEmailDomains.map((d) => d.toLowerCase()));

  /** What is wrong with the form, without looking anything up. */
  function check(input: SignupInput): SignupProblem[] {
    const problems: SignupProblem[] = [];
    const { email, name, username, password } = input;
    if (!email) problems.push({ field: 'email', key: 'signup.errors.emailRequired' });
    else if (!emailPattern.test(email) || email.length > 320) problems.push({ field: 'email', key: 'signup.errors.emailInvalid' });
    else if (allowedDomains.size && !allowedDomains.has(domainOf(email))) {
      problems.push({ field: 'email', key: 'signup.errors.emailDomain', params: { domain: domainOf(email), domains: [...allowedDomains].join(', ') } });
    }
    if (!name) problems.push({ field: 'name', key: 'signup.errors.nameRequired' });
    else if ([...name].length > maxNameLength || /\p{Cc}/u.test(name)) problems.push({ field: 'name', key: 'signup.errors.nameInvalid', params: { max: maxNameLength } });
    if (username && !usernamePattern.test(username)) problems.push({ field: 'username', key: 'signup.errors.usernameInvalid' });
    const weak = passwordProblem(password, passwords, { username: username || email, email });
    if (weak) problems.push({ field: 'password', key: passwordKeys[weak.code], params: 'min' in weak ? { min: weak.min } : 'max' in weak ? { max: weak.max } : {} });
    return problems;
  }

  /** Which of the names is taken (email first: the message that matters most). */
  async function taken(email: string, username: string): Promise<SignupProblem[]> {
    if (await accounts.findByLogin(email)) return [{ field: 'email', key: 'signup.errors.emailTaken' }];
    if (username && (await accounts.findByLogin(username))) return [{ field: 'username', key: 'signup.errors.usernameTaken' }];
    return [];
  }

  return {
    check,
    /** the shortest password the policy accepts (the form's hint) */
    minPasswordLength: passwords.minLength,
    /** whether the account signed up and has not verified its email (signup-holds.ts) */
    held: holds.held,

    /** Creates the account (email unverified) if the form is right, the names free and the address within its limit. */
    async signUp(typed: SignupInput, ip: string): Promise<SignupResult> {
      const input = { ...typed, email: typed.email.trim(), name: typed.name.trim(), username: typed.username.trim() };
      const problems = check(input);
      if (problems.length) return { outcome: 'invalid', problems };
      const verdict = await countHit(store.counters, `signup:ip:${clientAddressKey(ip)}`, signupLimit);
      if (!verdict.allowed) return { outcome: 'limited', retryAfter: verdict.retryAfter };
      const clash = await taken(input.email, input.username);
      if (clash.length) return { outcome: 'invalid', problems: clash };
      let account: AccountRecord;
      try {
        account = await accounts.create({
          username: input.username || defaultUsername(input.email),
          email: input.email,
          name: input.name,
          password: input.password,
          emailVerified: false,
        });
      } catch (err) {
        // A name taken between the check and the insert (the store's unique indexes decide).
        if (err instanceof DuplicateError) {
          const field = err.field === 'email' ? 'email' : 'username';
          return { outcome: 'invalid', problems: [{ field, key: `signup.errors.${field}Taken` }] };
        }
        if (err instanceof HashingBusyError) return { outcome: 'busy', retryAfter: err.retryAfter };
        if (err instanceof AccountInputError) return { outcome: 'invalid', problems: [{ field: 'email', key: 'signup.errors.invalid' }] };
        throw err;
      }
      await holds.mark(account.id);
      return { outcome: 'created', account };
    },
  };
}

export type SignupService = ReturnType<typeof createSignupService>;
