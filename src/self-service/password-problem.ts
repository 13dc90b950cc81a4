import type { PasswordProblem } from '../accounts/password-policy.js';

/** A message of the catalogue and its values. */
export interface PageMessage {
  key: string;
  params?: Record<string, unknown>;
}

/** What a page says when the password policy refuses a new password (`reset.*`, in the page's language). */
export function passwordProblemMessage(problem: PasswordProblem): PageMessage {
  switch (problem.code) {
    case 'too_short':
      return { key: 'reset.tooShort', params: { min: problem.min } };
    case 'too_long':
      return { key: 'reset.tooLong', params: { max: problem.max } };
    case 'common':
      return { key: 'reset.common' };
    case 'own_name':
      return { key: 'reset.own' };
  }
}
