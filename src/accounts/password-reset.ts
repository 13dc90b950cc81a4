import { createHash } from 'node:crypto';

import type { Audit } from '../audit.js';
import type { Config } from '../config/schema.js';
import type { Email } from '../email/create-email.js';
import { MailUnavailableError } from '../email/mailer.js';
import { clientAddressKey } from '../limits/client-address.js';
import { countHit, type WindowLimit } from '../limits/fixed-window.js';
import { normalizeLogin } from '../storage/normalize.js';
import type { AccountRecord, CounterStore } from '../storage/types.js';
import type { AccountLinks, LinkGrant } from './account-links.js';
import type { AccountService } from './account-service.js';
import type { EndedSignIns } from './sign-ins.js';
import { passwordProblem, type PasswordProblem } from './password-policy.js';

/** How long a reset link works. */
export const resetLinkSeconds = 15 * 60;

/** Reset emails at most per typed address and per client address (IPv6: per /64), per hour. */
export const resetLimits = {
  perAddress: { limit: 3, windowSeconds: 3600 },
  perIp: { limit: 10, windowSeconds: 3600 },
} satisfies Record<string, WindowLimit>;

export interface PasswordResetDeps {
  accounts: AccountService;
  links: AccountLinks;
  email: Email;
  counters: CounterStore;
  issuer: string;
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength'>;
  audit: Audit;
  /** for tests: a shorter link lifetime */
  linkSeconds?: number;
}

/** A reset link that still works: its account and the language its email was in. */
export interface OpenReset {
  account: AccountRecord;
  locale: string;
}

export type ResetOutcome =
  | { outcome: 'done'; account: AccountRecord; ended: EndedSignIns }
  | { outcome: 'invalid' }
  /** the new password breaks the policy; the link still works */
  | { outcome: 'refused'; problem: PasswordProblem };

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
const sameAddress = (a: string | null, b: string | undefined) => !!a && !!b && normalizeLogin(a) === normalizeLogin(b);

/**
 * Password reset by email: a single-use link (account-links.ts), valid 15 minutes, to the
 * account's address. Only the latest link of an account works: each request moves the account's
 * link generation (one atomic counter update), and a link carries the generation it was issued
 * under; a completed reset moves it again. A link also stops working when the account's email
 * changes. Requests never tell whether an address has an account: both answers do the same store
 * work, and the email goes out in the background. Sends are limited per address and per client
 * address (`resetLimits`); past them nothing is sent, and the answer is the same.
 */
export function createPasswordReset({ accounts, links, email, counters, issuer, policy, audit, linkSeconds = resetLinkSeconds }: PasswordResetDeps) {
  const generationKey = (accountId: string) => `reset:gen:${accountId}`;
  const generation = async (accountId: string) => (await counters.get(generationKey(accountId)))?.state.g;
  const nextGeneration = async (accountId: string) => {
    const entry = await counters.update(generationKey(accountId), (current, now) => ({
      state: { g: (current?.state.g ?? 0) + 1 },
      // outlives every link issued under it (a lapsed counter means every link has lapsed too)
      expiresAt: now + (linkSeconds + 60) * 1000,
    }));
    return entry!.state.g!;
  };

  /** A link's grant, if it is the account's latest and its email is still the account's. */
  const current = async (grant: LinkGrant | undefined): Promise<AccountRecord | undefined> => {
    if (!grant) return undefined;
    const account = await accounts.find(grant.accountId);
    if (!account || !sameAddress(account.email, grant.data.email)) return undefined;
    return String(await generation(account.id)) === grant.data.gen ? account : undefined;
  };

  /** Issues the account's new (and only working) reset link. */
  async function issueLink(account: AccountRecord, locale: string): Promise<string> {
    const gen = await nextGeneration(account.id);
    const token = await links.issue(account.id, 'reset-password', linkSeconds, { email: account.email ?? '', gen: String(gen), locale });
    return `${issuer}/reset-password?token=${token}`;
  }

  async function deliver(account: AccountRecord, locale: string, ip: string): Promise<void> {
    const fields = { actor: account.id, ip };
    try {
      const link = await issueLink(account, locale);
      await email.send('reset', locale, { to: account.email!, name: account.name ?? account.username, link }, linkSeconds);
      audit('password_reset.requested', { outcome: 'success', ...fields });
    } catch (err) {
      const reason = err instanceof MailUnavailableError ? 'mail-unavailable' : 'mail-failed';
      audit('password_reset.requested', { outcome: 'failure', ...fields, reason, error: (err as { code?: string }).code });
    }
  }

  return {
    issueLink,

    /**
     * "Forgot password?": sends a link to `address` if an account has it as its email, within the
     * limits. Resolves before anything is sent, having done the same work either way.
     */
    async request(address: string, { ip, locale }: { ip: string; locale: string }): Promise<void> {
      const typed = normalizeLogin(address);
      const [byIp, byAddress] = await Promise.all([
        countHit(counters, `reset:ip:${clientAddressKey(ip)}`, resetLimits.perIp),
        countHit(counters, `reset:address:${digest(typed)}`, resetLimits.perAddress),
      ]);
      const found = await accounts.findByLogin(typed);
      const account = found && sameAddress(found.email, typed) ? found : undefined;
      if (!byIp.allowed || !byAddress.allowed) {
        audit('password_reset.requested', { outcome: 'denied', actor: account?.id, ip, reason: byIp.allowed ? 'address-limit' : 'ip-limit' });
        return;
      }
      if (!account) {
        audit('password_reset.requested', { outcome: 'failure', ip, reason: 'unknown-address' });
        return;
      }
      // After this request's answer is on its way: its timing must not depend on the send.
      setImmediate(() => void deliver(account, locale, ip));
    },

    /** What a link opens, without using it; undefined when it does not work (any reason). */
    async open(token: string): Promise<OpenReset | undefined> {
      const grant = await links.peek(token, 'reset-password');
      const account = await current(grant);
      return account && grant ? { account, locale: grant.data.locale ?? '' } : undefined;
    },

    /**
     * Uses the link to set `password` (our policy), which ends every session and grant of the
     * account. A password the policy refuses leaves the link working.
     */
    async complete(token: string, password: string, ip: string): Promise<ResetOutcome> {
      const before = await current(await links.peek(token, 'reset-password'));
      if (!before) return { outcome: 'invalid' };
      const problem = passwordProblem(password, policy, { username: before.username, email: before.email ?? undefined });
      if (problem) return { outcome: 'refused', problem };
      // Single use (an atomic consume); and still the latest once used, or a newer request won.
      const account = await current(await links.redeem(token, 'reset-password'));
      if (!account) return { outcome: 'invalid' };
      const ended = await accounts.setPassword(account.id, password);
      if (!ended) return { outcome: 'invalid' };
      await nextGeneration(account.id);
      audit('password_reset.completed', { outcome: 'success', actor: account.id, ip, sessions: ended.sessions, grants: ended.grants });
      return { outcome: 'done', account, ended };
    },

    /** The form of the page a link opens is bound to that link (a CSRF id for it). */
    formId: (token: string) => `reset-password:${digest(`link:${token}`)}`,
  };
}

export type PasswordReset = ReturnType<typeof createPasswordReset>;
