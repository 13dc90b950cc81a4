import { createHash } from 'node:crypto';
import type { Logger } from 'pino';

import type { Email } from '../email/create-email.js';
import { MailUnavailableError } from '../email/mailer.js';
import { countHit, type WindowLimit } from '../limits/fixed-window.js';
import { normalizeLogin } from '../storage/normalize.js';
import type { AccountRecord, Store } from '../storage/types.js';
import type { AccountLinks } from './account-links.js';
import { createSignupHolds } from './signup-holds.js';

/** How long a verification link works. */
export const verificationLinkSeconds = 24 * 3600;

/** How long a page waits for the mail server; past it, the email goes on in the background and counts as sent. */
export const deliveryWaitMs = 5000;

/** Verification emails per account and per email address, per hour (the first one counts too). */
export const verificationSendLimit: WindowLimit = { limit: 3, windowSeconds: 3600 };

/** What asking for a verification email came to; the caller puts it in words. */
export type VerificationSent =
  | { outcome: 'sent' }
  /** the limit is reached; nothing was sent */
  | { outcome: 'limited'; retryAfter: number }
  /** no mail could be sent (no SMTP server in production, or the server failed); logged */
  | { outcome: 'unavailable' }
  /** the account has no email, or it is verified already */
  | { outcome: 'nothing-to-verify' };

export type VerificationResult =
  /** `locale`: the language of the email the link came in */
  | { outcome: 'verified'; accountId: string; email: string; locale: string }
  | { outcome: 'invalid' };

export interface EmailVerificationDeps {
  store: Store;
  links: AccountLinks;
  email: Email;
  /** links are built on the issuer URL, never on a request's Host */
  issuer: string;
  logger: Pick<Logger, 'warn'>;
  /** for tests: how long to wait for the mail server (deliveryWaitMs) */
  waitMs?: number;
}

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * Email verification: a single-use link (account-links.ts, purpose `verify-email`, 24 hours)
 * bound to the account and the address it was sent to. Using it verifies that address only if it
 * is still the account's, so a link sent to an earlier address does nothing. Sends are limited
 * per account and per address (`verificationSendLimit`).
 */
export function createEmailVerification({ store, links, email, issuer, logger, waitMs = deliveryWaitMs }: EmailVerificationDeps) {
  const holds = createSignupHolds(store);

  const within = async (account: AccountRecord, address: string) => {
    for (const key of [`verify:account:${account.id}`, `verify:address:${digest(normalizeLogin(address))}`]) {
      const verdict = await countHit(store.counters, key, verificationSendLimit);
      if (!verdict.allowed) return verdict;
    }
    return { allowed: true as const };
  };

  return {
    /**
     * Sends a link that verifies the account's current email, in `locale` (sign-up, "Send the
     * email again" on the check-your-email page and on /account).
     */
    async send(account: AccountRecord, locale: string): Promise<VerificationSent> {
      const address = account.email;
      if (!address || account.emailVerified) return { outcome: 'nothing-to-verify' };
      const verdict = await within(account, address);
      if (!verdict.allowed) return { outcome: 'limited', retryAfter: verdict.retryAfter };
      const token = await links.issue(account.id, 'verify-email', verificationLinkSeconds, { email: address, locale });
      const link = `${issuer}/verify-email?token=${token}`;
      const delivery = email.send('verify', locale, { to: address, name: account.name ?? account.username, link }, verificationLinkSeconds).then(
        () => 'sent' as const,
        (err: unknown) => {
          const reason = err instanceof MailUnavailableError ? 'no SMTP server' : 'the SMTP server failed';
          logger.warn({ err, accountId: account.id }, `verification email not sent (${reason})`);
          return 'unavailable' as const;
        },
      );
      // A slow or unreachable mail server must not hold the page (nodemailer waits minutes).
      let timer: NodeJS.Timeout | undefined;
      const slow = new Promise<'sent'>((resolve) => {
        timer = setTimeout(() => resolve('sent'), waitMs);
      });
      const outcome = await Promise.race([delivery, slow]);
      clearTimeout(timer);
      return { outcome };
    },

    /** Uses a link (once): verifies the address it was sent to, if that is still the account's. */
    async confirm(token: string): Promise<VerificationResult> {
      const grant = await links.redeem(token, 'verify-email');
      const address = grant?.data.email;
      if (!grant || !address || !(await store.accounts.markEmailVerified(grant.accountId, address))) return { outcome: 'invalid' };
      await holds.release(grant.accountId);
      return { outcome: 'verified', accountId: grant.accountId, email: address, locale: grant.data.locale ?? '' };
    },
  };
}

export type EmailVerification = ReturnType<typeof createEmailVerification>;
