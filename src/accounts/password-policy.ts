import { createRequire } from 'node:module';

import type { Config } from '../config/schema.js';

/**
 * The ranked list of common passwords shipped by @zxcvbn-ts/language-common (MIT, ~49,000
 * entries, drawn from breach corpora), lowercased and sorted into one '\n'-joined string with each
 * entry's offset, looked up by binary search. Loaded on first use (a node serving only tokens never
 * holds it), and compact once loaded: ~0.5 MB, where a Set of the package's strings kept ~4 MB of
 * heap alive for good (which V8's heap sizing multiplies under load).
 */
interface Dictionary {
  text: string;
  /** where each entry starts in text; one more at the end (text.length + 1) */
  starts: Uint32Array;
}

let common: Dictionary | undefined;

function commonPasswords(): Dictionary {
  if (!common) {
    const require = createRequire(import.meta.url);
    const loadedBefore = new Set(Object.keys(require.cache));
    const { dictionary } = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    const words = [...new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()))].sort();
    // the package's modules hold the lists (and more) as they came: let them go
    for (const id of Object.keys(require.cache)) if (!loadedBefore.has(id)) delete require.cache[id];
    const starts = new Uint32Array(words.length + 1);
    let at = 0;
    words.forEach((word, i) => {
      starts[i] = at;
      at += word.length + 1;
    });
    starts[words.length] = at;
    common = { text: words.join('\n'), starts };
  }
  return common;
}

function isCommon(lower: string): boolean {
  const { text, starts } = commonPasswords();
  let lo = 0;
  let hi = starts.length - 2;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const entry = text.slice(starts[mid], starts[mid + 1]! - 1);
    if (entry === lower) return true;
    if (entry < lower) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
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
  if (isCommon(lower)) return { code: 'common' };
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
