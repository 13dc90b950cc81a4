import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { EmailVerification, VerificationSent } from '../accounts/email-verification.js';
import type { SignupService } from '../accounts/signup-service.js';
import type { Audit } from '../audit.js';
import type { Csrf } from '../http/csrf.js';
import { parseForm } from '../http/form-body.js';
import type { I18n } from '../i18n/i18n.js';
import type { SendPage } from '../pages/send-page.js';
import type { AccountRecord } from '../storage/types.js';
import { interactionUrl } from './paths.js';
import type { SecondFactor } from './second-factor.js';
import type { Details, Steps } from './steps.js';

/** How long a sign-in waits, in its browser, for the address to be verified; then the password is asked again. */
export const awaitingEmailSeconds = 1800;

/** A sign-in waiting for its email to be verified: who (after a right password) and since when. */
interface AwaitingEmail {
  accountId: string;
  /** epoch ms of the password check */
  at: number;
}

export interface EmailCheckDeps {
  provider: () => Provider;
  accounts: AccountService;
  signup: SignupService;
  verification: EmailVerification;
  /** signup.requireVerifiedEmail: hold the password sign-ins of accounts that signed up and have not verified */
  requireVerifiedEmail: boolean;
  csrf: Csrf;
  sendPage: SendPage;
  i18n: I18n;
  audit: Audit;
}

/** The interaction's waiting sign-in, if fresh. Like the first factor, it lives in the interaction (the store), never in a form. */
function awaitingEmail(found: Details, now = Date.now()): AwaitingEmail | undefined {
  const stored = (found.result as { idport?: { awaitingEmail?: Partial<AwaitingEmail> } } | undefined)?.idport?.awaitingEmail;
  if (!stored || typeof stored.accountId !== 'string' || typeof stored.at !== 'number') return undefined;
  if (now - stored.at > awaitingEmailSeconds * 1000 || stored.at > now + 60_000) return undefined;
  return { accountId: stored.accountId, at: stored.at };
}

type Notice = 'sent' | 'limited' | 'unavailable' | 'notYet';
const noticeOf = (sent: VerificationSent): Notice | undefined =>
  sent.outcome === 'sent' ? 'sent' : sent.outcome === 'limited' ? 'limited' : sent.outcome === 'unavailable' ? 'unavailable' : undefined;

/**
 * "Check your email": a sign-in that waits for the account's address to be verified (after
 * sign-up with signup.requireVerifiedEmail, or a password sign-in of such an account). The page
 * offers to send the email again and to continue once the link was opened (in any browser).
 */
export function createEmailCheck(steps: Steps, afterFirstFactor: SecondFactor['afterFirstFactor'], deps: EmailCheckDeps) {
  const { provider, accounts, signup, verification, requireVerifiedEmail, csrf, sendPage, i18n, audit } = deps;

  const sendCheckPage = async (ctx: Context, found: Details, account: AccountRecord, { justSignedUp = false, notice }: { justSignedUp?: boolean; notice?: Notice | undefined } = {}) => {
    const locale = ctx.state.locale as string;
    const t = (key: string, params?: Record<string, unknown>) => i18n.t(locale, key, params);
    const { name, formTargets } = await steps.client(ctx, found);
    const base = interactionUrl(found.uid);
    const token = csrf.token(found.uid);
    const heading = t(justSignedUp ? 'verify.checkHeading' : 'verify.heldHeading');
    const page = {
      title: heading,
      heading,
      lead: t(justSignedUp ? 'verify.checkLead' : 'verify.heldLead', { email: account.email ?? '', client: name }),
      notice: notice === 'sent' && !justSignedUp ? t('verify.resent') : undefined,
      alert: notice && notice !== 'sent' ? t(`verify.${notice}`) : undefined,
      paragraphs: [t('verify.then'), t('verify.noEmail')],
      forms: [
        { action: `${base}/email/continue`, csrf: token, label: t('verify.continue'), style: 'primary' },
        { action: `${base}/email/resend`, csrf: token, label: t('verify.resend'), style: 'secondary' },
        { action: `${base}/abort`, csrf: token, label: t('verify.cancel'), style: 'link' },
      ],
    };
    sendPage(ctx, 'message', page, { locale, formTargets });
  };

  /** Keeps the sign-in waiting in the interaction for the account's address to be verified. */
  const wait = (ctx: Context, account: AccountRecord, at = Date.now()) =>
    provider().interactionResult(ctx.req, ctx.res, { idport: { awaitingEmail: { accountId: account.id, at } } }, { mergeWithLastSubmission: false });

  /** The account of the interaction's waiting sign-in; when there is none (or it expired), the login page again. */
  const waiting = async (ctx: Context, found: Details) => {
    const pending = awaitingEmail(found);
    const account = pending ? await accounts.find(pending.accountId) : undefined;
    if (pending && account) return { pending, account };
    ctx.status = 303;
    ctx.redirect(interactionUrl(found.uid));
    return undefined;
  };

  return {
    /** After sign-up with requireVerifiedEmail: the sign-in waits; the page says where the link went. */
    async afterSignup(ctx: Context, found: Details, account: AccountRecord, sent: VerificationSent): Promise<void> {
      await wait(ctx, account);
      await sendCheckPage(ctx, found, account, { justSignedUp: true, notice: noticeOf(sent) });
    },

    /**
     * After a right password: holds the sign-in of an account that signed up and has not verified
     * its email, when signup.requireVerifiedEmail is on (returns true; the page is sent).
     */
    async hold(ctx: Context, found: Details, account: AccountRecord): Promise<boolean> {
      if (!requireVerifiedEmail || !(await signup.held(account))) return false;
      audit('login', { outcome: 'denied', actor: account.id, client_id: String(found.params.client_id), ip: ctx.ip, method: 'password', reason: 'email_unverified' });
      await wait(ctx, account);
      await sendCheckPage(ctx, found, account);
      return true;
    },

    addRoutes(router: Router): void {
      router.post('/email/resend', parseForm, async (ctx) => {
        const found = await steps.details(ctx, 'login');
        const current = await waiting(ctx, found);
        if (!current) return;
        const sent = await verification.send(current.account, ctx.state.locale as string);
        audit('email.verification_sent', { outcome: sent.outcome === 'sent' ? 'success' : 'denied', actor: current.account.id, ip: ctx.ip, reason: sent.outcome });
        if (sent.outcome === 'limited') {
          ctx.status = 429;
          ctx.set('Retry-After', String(sent.retryAfter));
        }
        await sendCheckPage(ctx, found, current.account, { notice: noticeOf(sent) });
      });

      router.post('/email/continue', parseForm, async (ctx) => {
        const found = await steps.details(ctx, 'login');
        const current = await waiting(ctx, found);
        if (!current) return;
        if (!current.account.emailVerified) return sendCheckPage(ctx, found, current.account, { notice: 'notYet' });
        const first = { accountId: current.account.id, at: current.pending.at, amr: ['pwd' as const] };
        if (await afterFirstFactor(ctx, found, first, 'password')) {
          ctx.status = 303;
          ctx.redirect(interactionUrl(found.uid));
        }
      });
    },
  };
}

export type EmailCheck = ReturnType<typeof createEmailCheck>;
