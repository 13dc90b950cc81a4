import { dictionary } from '@zxcvbn-ts/language-common';

import type { Config } from '../config/schema.js';

let common: Set<string> | undefined;

/**
 * The ranked list of common passwords shipped by @zxcvbn-ts/language-common (MIT, ~49,000
 * entries, drawn from breach corpora), loaded on first use.
 */
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  return common;
}

/**
 * NIST SP 800-63B / ASVS 5 rules for a new password: a minimum and a generous maximum length
 * (counted in characters, never truncated), no composition rules, not a known common password,
 * not the account's own username or email. Returns the reason it is refused, or undefined.
 */
export function checkNewPassword(
  password: string,
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength'>,
  context: { username?: string | undefined; email?: string | undefined } = {},
): string | undefined {
  const length = [...password].length;
  if (length < policy.minLength) return `password must be at least ${policy.minLength} characters`;
  if (length > policy.maxLength) return `password must be at most ${policy.maxLength} characters`;
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) return 'password is on the list of commonly used passwords; choose another';
  const own = [context.username, context.email, context.email?.split('@')[0]].filter((v): v is string => !!v);
  if (own.some((v) => v.toLowerCase() === lower)) return 'password must not be your username or email';
  return undefined;
}
