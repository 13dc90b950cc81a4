import Router from '@koa/router';
import type { Context } from 'koa';

import { HashingBusyError } from '../accounts/password.js';
import type { PasswordReset } from '../accounts/password-reset.js';
import type { Config } from '../config/schema.js';
import type { Csrf } from '../http/csrf.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { noCache } from '../http/no-cache.js';
import type { I18n } from '../i18n/i18n.js';
import type { SendPage } from '../pages/send-page.js';
import { createSendMessage } from '../self-service/message-page.js';
import { passwordProblemMessage, type PageMessage } from '../self-service/password-problem.js';
import { interactionUrl } from './paths.js';
import type { Steps } from './steps.js';

export interface PasswordResetRouteDeps {
  passwordReset: PasswordReset;
  sendPage: SendPage;
  csrf: Csrf;
  i18n: I18n;
  policy: Pick<Config['passwords'], 'minLength' | 'maxLength'>;
}

/** What an address field may hold: one line, something@something. */
const looksLikeAddress = (value: string) => /^[^\s@]{1,64}@[^\s@]{1,255}$/.test(value);

/**
 * "Forgot password?" from the login page: GET/POST {interactionUrl}/forgot (the address). The
 * answer is the same page whether or not an account has the address (see accounts/password-reset.ts).
 */
export function addForgotPassword(router: Router, steps: Steps, { passwordReset, sendPage, csrf, i18n }: Omit<PasswordResetRouteDeps, 'policy'>): void {
  const sendMessage = createSendMessage(sendPage, i18n);
  const showForm = (ctx: Context, uid: string, email = '', error?: string) =>
    sendPage(ctx, 'forgot-password', { action: `${interactionUrl(uid)}/forgot`, back: interactionUrl(uid), csrf: csrf.token(uid), email, error }, { locale: ctx.state.locale as string });

  router.get('/forgot', async (ctx) => {
    const found = await steps.details(ctx, 'login');
    showForm(ctx, found.uid);
  });

  router.post('/forgot', parseForm, async (ctx) => {
    const found = await steps.details(ctx, 'login');
    const locale = ctx.state.locale as string;
    const email = formString(ctx, 'email', 320).trim();
    if (!looksLikeAddress(email)) {
      ctx.status = 400;
      return showForm(ctx, found.uid, email, 'reset.invalidEmail');
    }
    await passwordReset.request(email, { ip: ctx.ip, locale });
    sendMessage(ctx, {
      heading: 'reset.sentHeading',
      lines: [{ key: 'reset.sentText', params: { email } }, { key: 'reset.sentHint' }],
      links: [{ href: interactionUrl(found.uid), label: 'reset.back' }],
    }, { locale });
  });
}

/**
 * The page a reset link opens, outside any interaction (the email may be read in another
 * browser): GET /reset-password?token=… shows the form, POST /reset-password sets the password.
 * Its form is bound to the link (a CSRF token for the link's hash). A link that does not work (used,
 * expired, superseded, for another purpose) gets a message page saying so.
 */
export function createResetPasswordRouter({ passwordReset, sendPage, csrf, i18n, policy }: PasswordResetRouteDeps): Router {
  const router = new Router({ prefix: '/reset-password' });
  const sendMessage = createSendMessage(sendPage, i18n);
  router.use(noCache);

  const language = (ctx: Context, preferred: string | undefined) =>
    preferred && i18n.locales.includes(preferred) ? preferred : i18n.negotiate(ctx);

  const invalidLink = (ctx: Context) => {
    ctx.status = 410;
    sendMessage(ctx, {
      heading: 'reset.invalidHeading',
      lines: [{ key: 'reset.invalidText' }],
      links: [{ href: '/account', label: 'reset.signIn' }],
    }, { locale: i18n.negotiate(ctx) });
  };

  const showForm = (ctx: Context, token: string, username: string, locale: string, error?: PageMessage) =>
    sendPage(ctx, 'reset-password', { token, username, csrf: csrf.token(passwordReset.formId(token)), minLength: policy.minLength, error }, { locale });

  router.get('/', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const open = await passwordReset.open(token);
    if (!open) return invalidLink(ctx);
    showForm(ctx, token, open.account.username, language(ctx, open.locale));
  });

  router.post('/', parseForm, async (ctx) => {
    const token = formString(ctx, 'token', 64);
    csrf.assert(passwordReset.formId(token), ctx.request.body);
    const password = formString(ctx, 'password', 1024);
    const open = await passwordReset.open(token);
    if (!open) return invalidLink(ctx);
    const locale = language(ctx, open.locale);
    let result;
    try {
      result = await passwordReset.complete(token, password, ctx.ip);
    } catch (err) {
      if (!(err instanceof HashingBusyError)) throw err;
      ctx.set('Retry-After', String(err.retryAfter));
      throw new HttpError(503, 'temporarily_unavailable', 'the service is temporarily unavailable; try again shortly', { messageKey: 'errors.unavailable' });
    }
    if (result.outcome === 'invalid') return invalidLink(ctx);
    if (result.outcome === 'refused') {
      ctx.status = 400;
      return showForm(ctx, token, open.account.username, locale, passwordProblemMessage(result.problem));
    }
    sendMessage(ctx, {
      heading: 'reset.doneHeading',
      lines: [{ key: 'reset.doneText' }],
      links: [{ href: '/account', label: 'reset.signIn' }],
    }, { locale });
  });

  return router;
}
