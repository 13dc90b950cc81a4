import { createTokenBucket } from '../limits/token-bucket.js';
import { normalizeLogin } from '../storage/normalize.js';
import type { AccountRecord, AccountStore } from '../storage/types.js';
import type { LoginGuard } from './login-guard.js';
import { HashingBusyError, hasPassword, type Passwords } from './password.js';

export type SignInResult =
  | { outcome: 'success'; account: AccountRecord }
  | { outcome: 'failure'; failures: number }
  | { outcome: 'locked'; retryAfter: number; reason: 'account' | 'ip' | 'rate' }
  | { outcome: 'busy'; retryAfter: number };

export interface SignInDeps {
  accounts: AccountStore;
  passwords: Passwords;
  guard: LoginGuard;
  /** real password checks per second (this process) for logins naming no account */
  unknownLoginChecksPerSecond: number;
  /** told of every check: a real account's, an unknown login's, or one skipped past the budget */
  onCheck?: (kind: 'account' | 'unknown' | 'unknown_skipped') => void;
}

/**
 * Password sign-in: the login guard first (per address, then per account, atomically, before any
 * hashing), then the check. A login naming no account costs the same time as a wrong password:
 * a real argon2 check against a dummy hash, within a budget per second; past it, a wait as long
 * as a check takes, without the hashing (so floods of made-up usernames cannot fill the queue
 * that real users' checks wait in).
 */
export function createSignIn({ accounts, passwords, guard, unknownLoginChecksPerSecond, onCheck }: SignInDeps) {
  const unknownBudget = createTokenBucket(unknownLoginChecksPerSecond);
  const checkUnknown = (password: string) => {
    const within = unknownBudget.take();
    onCheck?.(within ? 'unknown' : 'unknown_skipped');
    return within ? passwords.verifyDummy(password) : passwords.waitLikeVerify();
  };
  const checkAccount = (account: AccountRecord, password: string) => {
    onCheck?.('account');
    // An account with no password (made at a first sign-in through an upstream) takes as long to refuse.
    return hasPassword(account) ? passwords.verify(account.passwordHash, password) : passwords.verifyDummy(password);
  };

  return async function signIn(login: string, password: string, ip: string): Promise<SignInResult> {
    const account = login ? await accounts.findByLogin(login) : undefined;
    // One lock per account, whichever of its names (username, email, any case) was typed.
    const subject = account ? `account:${account.id}` : `name:${normalizeLogin(login)}`;
    const verdict = await guard.begin(subject, ip);
    if (!verdict.allowed) return { outcome: 'locked', retryAfter: verdict.retryAfter, reason: verdict.reason };
    let correct: boolean;
    try {
      correct = account ? await checkAccount(account, password) : await checkUnknown(password);
    } catch (err) {
      await guard.released(verdict.ticket);
      if (err instanceof HashingBusyError) return { outcome: 'busy', retryAfter: err.retryAfter };
      throw err;
    }
    if (correct && account) {
      await guard.succeeded(verdict.ticket);
      return { outcome: 'success', account };
    }
    return { outcome: 'failure', failures: await guard.failed(verdict.ticket) };
  };
}

export type SignIn = ReturnType<typeof createSignIn>;
