import type Router from '@koa/router';
import type { Context } from 'koa';

import { emailPattern, type AccountService } from '../accounts/account-service.js';
import type { EmailVerification } from '../accounts/email-verification.js';
import { hasPassword } from '../accounts/password.js';
import { passwordProblem } from '../accounts/password-policy.js';
import type { Audit } from '../audit.js';
import type { Config } from '../config/schema.js';
import { formString, parseForm } from '../http/form-body.js';
import type { I18n } from '../i18n/i18n.js';
import type { PageName, SendPage } from '../pages/send-page.js';
import { normalizeLogin } from '../storage/normalize.js';
import { DuplicateError } from '../storage/types.js';
import type { SendMessage } from './message-page.js';
import type { CheckPassword, PasswordCheck } from './password-check.js';
import { passwordProblemMessage, type PageMessage } from './password-problem.js';
import type { SignedIn, SignedInHelper } from './signed-in.js';

export interface CredentialRouteDeps {
  accounts: AccountService;
  verification: EmailVerification;
  checkPassword: CheckPassword;
  signedIn: SignedInHelper;
  sendPage: SendPage;
  sendMessage: SendMessage;
  i18n: I18n;
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength'>;
  /** clears the browser's session cookie (its session is gone) */
  forgetSession: (ctx: Context) => void;
  audit: Audit;
}

/** A wrong, locked or unchecked current password: the form again, saying so (400, 429 or 503). */
function refusal(ctx: Context, check: Exclude<PasswordCheck, { ok: true }>): PageMessage {
  if (check.reason === 'wrong') {
    ctx.status = 400;
    return { key: 'account.wrongPassword' };
  }
  ctx.status = check.reason === 'locked' ? 429 : 503;
  ctx.set('Retry-After', String(check.retryAfter ?? 60));
  return { key: check.reason === 'locked' ? 'account.locked' : 'account.busy' };
}

/**
 * /account/password, /account/email and /account/delete: each asks for the current password
 * (against the account's lock: checkPassword), needs a recent sign-in and a CSRF token, and is
 * audited. A new password ends every session and grant (this browser's too); a new email is
 * unverified until its link is opened; deleting the account revokes everything it had.
 */
export function addCredentialRoutes(router: Router, deps: CredentialRouteDeps): void {
  const { accounts, verification, checkPassword, signedIn, sendPage, sendMessage, i18n, policy, forgetSession, audit } = deps;
  const who = (ctx: Context, { account }: SignedIn) => ({ actor: account.id, ip: ctx.ip });

  const form = (page: PageName) => async (ctx: Context) => {
    const visitor = await signedIn.forChange(ctx);
    if (visitor) show(ctx, page, visitor);
  };
  const show = (ctx: Context, page: PageName, { session, account }: SignedIn, extra: Record<string, unknown> = {}) =>
    sendPage(ctx, page, { account, hasPassword: hasPassword(account), csrf: signedIn.csrfToken(session), minLength: policy.minLength, ...extra });

  /**
   * The current password of the form, checked; false (the form shown again) when it was not right.
   * An account with no password (made at a sign-in through an upstream) has nothing to ask: its
   * recent sign-in (signedIn.forChange) is the confirmation, as for its passkeys.
   */
  const confirmed = async (ctx: Context, page: PageName, visitor: SignedIn, event: string, extra: Record<string, unknown> = {}) => {
    if (!hasPassword(visitor.account)) return true;
    const check = await checkPassword(visitor.account, formString(ctx, 'current_password', 1024), ctx.ip);
    if (check.ok) return true;
    audit(event, { outcome: check.reason === 'wrong' ? 'failure' : check.reason === 'locked' ? 'locked' : 'busy', ...who(ctx, visitor), reason: `${check.reason}-password` });
    show(ctx, page, visitor, { ...extra, error: refusal(ctx, check) });
    return false;
  };

  router.get('/password', form('account-password'));
  router.post('/password', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const password = formString(ctx, 'password', 1024);
    if (!(await confirmed(ctx, 'account-password', visitor, 'account.password_changed'))) return;
    const { account } = visitor;
    const problem = passwordProblem(password, policy, { username: account.username, email: account.email ?? undefined });
    if (problem) {
      ctx.status = 400;
      return show(ctx, 'account-password', visitor, { error: passwordProblemMessage(problem) });
    }
    // The credential-change rule: every session and grant of the account ends, this one too.
    const ended = await accounts.setPassword(account.id, password);
    audit('account.password_changed', { outcome: 'success', ...who(ctx, visitor), sessions: ended?.sessions, grants: ended?.grants });
    forgetSession(ctx);
    sendMessage(ctx, { heading: 'account.passwordChanged', lines: [{ key: 'account.passwordChangedText' }], links: [{ href: '/account', label: 'reset.signIn' }] });
  });

  router.get('/email', form('account-email'));
  router.post('/email', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const email = formString(ctx, 'email', 320).trim();
    const again = (error: PageMessage, status = 400) => {
      ctx.status = status;
      show(ctx, 'account-email', visitor, { email, error });
    };
    if (!emailPattern.test(email)) return again({ key: 'account.invalidEmail' });
    if (visitor.account.email && normalizeLogin(visitor.account.email) === normalizeLogin(email)) return again({ key: 'account.sameEmail' });
    if (!(await confirmed(ctx, 'account-email', visitor, 'account.email_changed', { email }))) return;
    let changed;
    try {
      changed = await accounts.changeEmail(visitor.account.id, email);
    } catch (err) {
      if (!(err instanceof DuplicateError)) throw err;
      audit('account.email_changed', { outcome: 'denied', ...who(ctx, visitor), reason: 'taken' });
      return again({ key: 'account.emailTaken' }, 409);
    }
    if (!changed) return again({ key: 'account.emailTaken' }, 409);
    const sent = await verification.send(changed, i18n.negotiate(ctx));
    audit('account.email_changed', { outcome: 'success', ...who(ctx, visitor), verification: sent.outcome });
    ctx.status = 303;
    ctx.redirect(`/account?notice=${sent.outcome === 'sent' ? 'email-changed' : 'email-changed-unsent'}`);
  });

  // "Send the confirmation email again" for an unverified address (no change: a session and the form's token do).
  router.post('/email/resend', parseForm, async (ctx) => {
    const { account } = await signedIn.posted(ctx);
    const sent = await verification.send(account, i18n.negotiate(ctx));
    audit('email.verification_sent', { outcome: sent.outcome === 'sent' ? 'success' : 'denied', actor: account.id, ip: ctx.ip, reason: sent.outcome });
    const to = { sent: '?notice=verification-sent', limited: '?error=verification-limited', unavailable: '?error=verification-unavailable', 'nothing-to-verify': '' }[sent.outcome];
    ctx.status = 303;
    ctx.redirect(`/account${to}`);
  });

  router.get('/delete', form('account-delete'));
  router.post('/delete', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    if (!(await confirmed(ctx, 'account-delete', visitor, 'account.deleted'))) return;
    const ended = await accounts.remove(visitor.account.id);
    audit('account.deleted', { outcome: 'success', ...who(ctx, visitor), sessions: ended?.sessions, grants: ended?.grants });
    forgetSession(ctx);
    sendMessage(ctx, { heading: 'account.deleted', lines: [{ key: 'account.deletedText' }], links: [] });
  });
}
