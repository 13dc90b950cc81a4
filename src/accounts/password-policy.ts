import { createRequire } from 'node:module';

import type { Config } from '../config/schema.js';

let common: Set<string> | undefined;

/**
 * The ranked list of common passwords shipped by @zxcvbn-ts/language-common (MIT, ~49,000
 * entries, drawn from breach corpora), loaded on first use: a process that never sets a password
 * (a node serving only tokens) never holds its dictionaries (~2 MB of heap, which V8's heap
 * sizing multiplies under load).
 */
function commonPasswords(): Set<string> {
  if (!common) {
    const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    common = new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  }
  return common;
}

/** Why a new password is refused, as a stable code (pages put it in words in the reader's language). */
export type PasswordProblem =
  | { code: 'too_short'; min: number }
  | { code: 'too_long'; max: number }
  | { code: 'common' }
  | { code: 'own_name' };

/**
 * NIST SP 800-63B / ASVS 5 rules for a new password: a minimum and a generous maximum length
 * (counted in characters, never truncated), no composition rules, not a known common password,
 * not the account's own username or email. Returns why it is refused, or undefined.
 */
export function passwordProblem(
  password: string,
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength'>,
  context: { username?: string | undefined; email?: string | undefined } = {},
): PasswordProblem | undefined {
  const length = [...password].length;
  if (length < policy.minLength) return { code: 'too_short', min: policy.minLength };
  if (length > policy.maxLength) return { code: 'too_long', max: policy.maxLength };
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) return { code: 'common' };
  const own = [context.username, context.email, context.email?.split('@')[0]].filter((v): v is string => !!v);
  if (own.some((v) => v.toLowerCase() === lower)) return { code: 'own_name' };
  return undefined;
}

/** passwordProblem() in English words (the CLI, logs, AccountInputError), or undefined. */
export function checkNewPassword(
  password: string,
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength'>,
  context: { username?: string | undefined; email?: string | undefined } = {},
): string | undefined {
  const problem = passwordProblem(password, policy, context);
  switch (problem?.code) {
    case undefined:
      return undefined;
    case 'too_short':
      return `password must be at least ${problem.min} characters`;
    case 'too_long':
      return `password must be at most ${problem.max} characters`;
    case 'common':
      return 'password is on the list of commonly used passwords; choose another';
    case 'own_name':
      return 'password must not be your username or email';
  }
}
