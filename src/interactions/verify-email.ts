import Router from '@koa/router';

import type { EmailVerification } from '../accounts/email-verification.js';
import type { Audit } from '../audit.js';
import { noCache } from '../http/no-cache.js';
import type { I18n } from '../i18n/i18n.js';
import type { SendPage } from '../pages/send-page.js';

export interface VerifyEmailDeps {
  verification: EmailVerification;
  sendPage: SendPage;
  i18n: I18n;
  audit: Audit;
}

/** The path of the link in verification emails (on the issuer URL). */
export const verifyEmailPath = '/verify-email';

/**
 * GET /verify-email?token=…: the link in a verification email. It needs no session (it may be
 * opened in another browser, or on a phone): the link itself, single use and bound to the account
 * and the address it was sent to, is the proof. Anything but a working link (expired, used,
 * unknown, for another purpose, for an earlier address) gets the same page saying how to get a new
 * one. HEAD (link checkers) does not use the link.
 */
export function createVerifyEmailRouter({ verification, sendPage, i18n, audit }: VerifyEmailDeps): Router {
  const router = new Router();
  router.use(noCache);

  router.get(verifyEmailPath, async (ctx) => {
    if (ctx.method === 'HEAD') {
      ctx.status = 204;
      return;
    }
    const token = typeof ctx.query.token === 'string' && ctx.query.token.length <= 256 ? ctx.query.token : '';
    const result = token ? await verification.confirm(token) : { outcome: 'invalid' as const };
    // The language of the email the link came in, else the browser's.
    const emailed = result.outcome === 'verified' ? result.locale : '';
    const locale = i18n.locales.includes(emailed) ? emailed : i18n.negotiate(ctx);
    const t = (key: string, params?: Record<string, unknown>) => i18n.t(locale, key, params);
    const links = [{ href: '/account', label: t('verify.toAccount') }];
    if (result.outcome === 'verified') {
      audit('email.verified', { outcome: 'success', actor: result.accountId, ip: ctx.ip });
      const heading = t('verify.confirmedHeading');
      return sendPage(ctx, 'message', { title: heading, heading, lead: t('verify.confirmedLead', { email: result.email }), links }, { locale });
    }
    audit('email.verified', { outcome: 'failure', ip: ctx.ip, reason: 'link' });
    ctx.status = 410;
    const heading = t('verify.invalidHeading');
    sendPage(ctx, 'message', { title: heading, heading, lead: t('verify.invalidLead'), paragraphs: [t('verify.invalidHelp')], links }, { locale });
  });

  return router;
}
