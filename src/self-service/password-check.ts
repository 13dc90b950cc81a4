import type { LoginGuard } from '../accounts/login-guard.js';
import { HashingBusyError, hasPassword, type Passwords } from '../accounts/password.js';
import type { AccountRecord } from '../storage/types.js';

export type PasswordCheck = { ok: true } | { ok: false; reason: 'wrong' | 'locked' | 'busy'; retryAfter?: number; failures?: number };

/**
 * The current password, asked again before a change on /account (password, email, deleting the
 * account), checked against the same per-account lock as the login page: a wrong one counts as
 * a failed sign-in, and a locked account cannot be checked here either.
 */
export function createPasswordCheck({ guard, passwords }: { guard: LoginGuard; passwords: Passwords }) {
  return async function checkPassword(account: AccountRecord, password: string, ip: string): Promise<PasswordCheck> {
    const verdict = await guard.begin(`account:${account.id}`, ip);
    if (!verdict.allowed) return { ok: false, reason: 'locked', retryAfter: verdict.retryAfter };
    let correct: boolean;
    try {
      correct = hasPassword(account) && (await passwords.verify(account.passwordHash, password));
    } catch (err) {
      await guard.released(verdict.ticket);
      if (err instanceof HashingBusyError) return { ok: false, reason: 'busy', retryAfter: err.retryAfter };
      throw err;
    }
    if (!correct) return { ok: false, reason: 'wrong', failures: await guard.failed(verdict.ticket) };
    await guard.succeeded(verdict.ticket);
    return { ok: true };
  };
}

export type CheckPassword = ReturnType<typeof createPasswordCheck>;
