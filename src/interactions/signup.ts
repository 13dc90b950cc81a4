import type Router from '@koa/router';
import type { Context, Next } from 'koa';

import type { EmailVerification } from '../accounts/email-verification.js';
import type { SignupInput, SignupProblem, SignupService } from '../accounts/signup-service.js';
import type { Audit } from '../audit.js';
import type { Config } from '../config/schema.js';
import type { Csrf } from '../http/csrf.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import type { I18n } from '../i18n/i18n.js';
import type { SendPage } from '../pages/send-page.js';
import type { EmailCheck } from './email-check.js';
import { interactionUrl } from './paths.js';
import type { SecondFactor } from './second-factor.js';
import type { Details, Steps } from './steps.js';

export interface SignupDeps {
  signup: SignupService;
  verification: EmailVerification;
  settings: Config['signup'];
  csrf: Csrf;
  sendPage: SendPage;
  i18n: I18n;
  audit: Audit;
}

/** What the page shows besides the form: the fields' problems, or one message for the whole form. */
interface SignupPageState {
  values?: Partial<SignupInput>;
  problems?: SignupProblem[];
  /** a catalogue key for the form as a whole (rate limit, busy) */
  alert?: string;
}

/** The sign-up page's path for an interaction (the login page links to it). */
export const signupUrl = (uid: string): string => `${interactionUrl(uid)}/signup`;

/**
 * "Create an account" (signup.enabled; otherwise 404): the form under the interaction, so the new
 * account goes on to the app that sent the user, through the same steps as a password sign-in
 * (second-factor.ts: MFA policy applies) — or waits for the email to be verified
 * (signup.requireVerifiedEmail, email-check.ts).
 */
export function addSignup(router: Router, steps: Steps, afterFirstFactor: SecondFactor['afterFirstFactor'], emailCheck: EmailCheck, deps: SignupDeps): void {
  const { signup, verification, settings, csrf, sendPage, i18n, audit } = deps;

  const enabled = (_ctx: Context, next: Next) => {
    if (!settings.enabled) throw new HttpError(404, 'not_found', 'There is nothing at this address.', { messageKey: 'errors.notFound' });
    return next();
  };

  const sendSignup = async (ctx: Context, found: Details, { values = {}, problems = [], alert }: SignupPageState = {}) => {
    const locale = ctx.state.locale as string;
    const { name, formTargets } = await steps.client(ctx, found);
    const errors: Partial<Record<string, string>> = {};
    for (const p of problems) errors[p.field] ??= i18n.t(locale, p.key, p.params);
    const page = {
      interaction: interactionUrl(found.uid),
      csrf: csrf.token(found.uid),
      clientName: name,
      values: { email: values.email ?? '', name: values.name ?? '', username: values.username ?? '' },
      errors,
      alert: alert ? i18n.t(locale, alert) : problems.length ? i18n.t(locale, 'signup.fixErrors') : undefined,
      minPasswordLength: signup.minPasswordLength,
      domains: settings.allowedEmailDomains.join(', '),
    };
    sendPage(ctx, 'signup', page, { locale, formTargets });
  };

  router.get('/signup', enabled, async (ctx) => {
    const found = await steps.details(ctx, 'login');
    await sendSignup(ctx, found);
  });

  router.post('/signup', enabled, parseForm, async (ctx) => {
    const found = await steps.details(ctx, 'login');
    const client_id = String(found.params.client_id);
    const input: SignupInput = {
      email: formString(ctx, 'email', 320),
      name: formString(ctx, 'name', 400),
      username: formString(ctx, 'username', 256, false),
      password: formString(ctx, 'password', 1024),
    };
    const values = { email: input.email, name: input.name, username: input.username };
    const result = await signup.signUp(input, ctx.ip);
    switch (result.outcome) {
      case 'invalid':
        audit('signup', { outcome: 'failure', client_id, ip: ctx.ip, reasons: result.problems.map((p) => p.key.replace(/^signup\.errors\./, '')) });
        ctx.status = 400;
        return sendSignup(ctx, found, { values, problems: result.problems });
      case 'limited':
        audit('signup', { outcome: 'denied', client_id, ip: ctx.ip, reason: 'rate' });
        ctx.status = 429;
        ctx.set('Retry-After', String(result.retryAfter));
        return sendSignup(ctx, found, { values, alert: 'signup.errors.tooMany' });
      case 'busy':
        ctx.status = 503;
        ctx.set('Retry-After', String(result.retryAfter));
        return sendSignup(ctx, found, { values, alert: 'signup.errors.busy' });
      case 'created': {
        const { account } = result;
        const sent = await verification.send(account, ctx.state.locale as string);
        audit('signup', { outcome: 'success', actor: account.id, client_id, ip: ctx.ip, email_sent: sent.outcome });
        if (settings.requireVerifiedEmail) return emailCheck.afterSignup(ctx, found, account, sent);
        // A new account has no second factor: signed in now, unless the app needs one.
        const first = { accountId: account.id, at: Date.now(), amr: ['pwd' as const] };
        if (await afterFirstFactor(ctx, found, first, 'password')) {
          ctx.status = 303;
          ctx.redirect(interactionUrl(found.uid));
        }
        return;
      }
    }
  });
}
