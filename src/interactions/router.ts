import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { AccountLinks } from '../accounts/account-links.js';
import type { EmailVerification } from '../accounts/email-verification.js';
import type { SignupService } from '../accounts/signup-service.js';
import type { LoginGuard } from '../accounts/login-guard.js';
import type { PasswordReset } from '../accounts/password-reset.js';
import type { Email } from '../email/create-email.js';
import type { SignIn } from '../accounts/sign-in.js';
import type { Config } from '../config/schema.js';
import type { Factors } from '../factors/create-factors.js';
import type { Audit } from '../audit.js';
import type { ConsentService } from '../consents/consent-service.js';
import type { Csrf } from '../http/csrf.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { noCache } from '../http/no-cache.js';
import type { I18n } from '../i18n/i18n.js';
import type { SendPage } from '../pages/send-page.js';
import { clientValue } from '../provider/client-metadata.js';
import { accountClientId } from '../self-service/account-client.js';
import type { ApiRegistry } from '../apis/api-registry.js';
import { finishConsent, sendConsent } from './consent.js';
import { createEmailCheck } from './email-check.js';
import { addPasskeyLogin } from './passkey-login.js';
import { addForgotPassword } from './password-reset.js';
import { interactionPrefix, interactionUrl } from './paths.js';
import { createSecondFactor } from './second-factor.js';
import { addSignup, signupUrl } from './signup.js';
import { addUpstreamLogin } from './upstream-login.js';
import type { FederatedAccounts } from '../upstreams/federated-accounts.js';
import type { UpstreamSignIn } from '../upstreams/upstream-sign-in.js';
import type { ClientInfo, Details, Steps } from './steps.js';

export interface InteractionDeps {
  provider: () => Provider;
  accounts: AccountService;
  sendPage: SendPage;
  i18n: I18n;
  /** the product's name, in the name of our own account app */
  productName: string;
  csrf: Csrf;
  signIn: SignIn;
  /** the per-account lock: wrong second-factor codes count against it like wrong passwords */
  guard: LoginGuard;
  /** passkeys, TOTP and recovery codes */
  factors: Factors;
  mfa: Config['mfa'];
  /** email for sign-up verification and password reset */
  email: Email;
  /** single-use links in those emails */
  links: AccountLinks;
  /** sign-in through upstream providers, and whose account each of their users is */
  upstreams: UpstreamSignIn;
  federated: FederatedAccounts;
  /** the settings of sign-up and password reset */
  selfService: Pick<Config, 'signup' | 'passwordReset' | 'issuer'>;
  /** creating accounts (signup.enabled), and which ones wait for their email to be verified */
  signup: SignupService;
  /** verification emails ("Send the email again") */
  verification: EmailVerification;
  /** "Forgot password?" (passwordReset.enabled) */
  passwordReset: PasswordReset;
  audit: Audit;
  consents: ConsentService;
  apis: ApiRegistry;
}

/** The client's display name, and where forms on its pages may end up (its redirect URI). */
async function clientInfo(provider: Provider, details: Details, accountName: () => string): Promise<ClientInfo> {
  const client = await provider.Client.find(String(details.params.client_id));
  const redirect = details.params.redirect_uri;
  return {
    client: client ?? { clientId: String(details.params.client_id) },
    name: client?.clientId === accountClientId ? accountName() : (client?.clientName ?? String(details.params.client_id)),
    firstParty: (client ? clientValue(client, 'first_party') : undefined) === true,
    formTargets: typeof redirect === 'string' ? [redirect] : (client?.redirectUris ?? []),
  };
}

/**
 * Login (password, passkey, second factor), consent and abort pages under
 * {interactionPrefix}/:uid (the interaction cookie's path).
 */
export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, accounts, sendPage, i18n, productName, csrf, signIn, guard, factors, audit, consents, apis } = deps;
  const router = new Router({ prefix: `${interactionPrefix}/:uid` });

  /** The interaction, its page language (also for error pages: ctx.state.locale), checked. */
  const details = async (ctx: Context, expectedPrompt?: string): Promise<Details> => {
    const found = await provider().interactionDetails(ctx.req, ctx.res);
    ctx.state.locale = i18n.negotiate(ctx, found.params.ui_locales);
    if (found.uid !== ctx.params.uid) throw new HttpError(400, 'invalid_request', 'interaction mismatch', { messageKey: 'errors.interactionMismatch' });
    if (expectedPrompt && found.prompt.name !== expectedPrompt) {
      throw new HttpError(400, 'invalid_request', 'this step of the sign-in is already done; go back to the app and start again', { messageKey: 'errors.stepDone' });
    }
    if (ctx.method === 'POST') csrf.assert(found.uid, ctx.request.body);
    return found;
  };

  const client = (ctx: Context, found: Details) =>
    clientInfo(provider(), found, () => i18n.t(ctx.state.locale as string, 'account.clientName', { product: productName }));

  const sendLogin: Steps['sendLogin'] = async (ctx, found, extra = {}) => {
    const { name, formTargets } = await client(ctx, found);
    const page = {
      interaction: interactionUrl(found.uid),
      csrf: csrf.token(found.uid),
      clientName: name,
      login: extra.login ?? (typeof found.params.login_hint === 'string' ? found.params.login_hint : ''),
      signupUrl: deps.selfService.signup.enabled ? signupUrl(found.uid) : undefined,
      forgotUrl: deps.selfService.passwordReset.enabled ? `${interactionUrl(found.uid)}/forgot` : undefined,
      // Wrong credentials always read the same, whatever was wrong (unknown user, password, lockout).
      error: extra.error,
      errorParams: extra.errorParams ?? {},
      upstreams: (await deps.upstreams.buttons()).map((u) => ({ label: u.label, url: `${interactionUrl(found.uid)}/upstream/${encodeURIComponent(u.id)}` })),
    };
    sendPage(ctx, 'login', page, { locale: ctx.state.locale as string, formTargets });
  };

  const finish = async (ctx: Context, result: InteractionResults, mergeWithLastSubmission: boolean) => {
    const returnTo = await provider().interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
    ctx.status = 303;
    ctx.redirect(returnTo);
  };

  const steps: Steps = { details, client, sendLogin, finish };
  const secondFactor = createSecondFactor(steps, { provider, accounts, factors, guard, csrf, sendPage, audit });
  const { signup, verification, selfService } = deps;
  const emailCheck = createEmailCheck(steps, secondFactor.afterFirstFactor, {
    provider, accounts, signup, verification, requireVerifiedEmail: selfService.signup.requireVerifiedEmail, csrf, sendPage, i18n, audit,
  });

  router.use(noCache);

  router.get('/', async (ctx) => {
    const found = await details(ctx);
    if (found.prompt.name === 'login') return secondFactor.showLoginPrompt(ctx, found);
    if (found.prompt.name === 'consent') {
      const { client: registered, name, firstParty, formTargets } = await client(ctx, found);
      if (firstParty) {
        // Our own apps do not ask users to consent to themselves.
        const result = await finishConsent(provider(), consents, found, registered);
        audit('consent', { outcome: 'success', actor: found.session?.accountId, client_id: String(found.params.client_id), ip: ctx.ip, first_party: true });
        return finish(ctx, result, true);
      }
      const account = found.session?.accountId ? await accounts.find(found.session.accountId) : undefined;
      return sendConsent(ctx, { sendPage, i18n, csrf, apis }, { found, client: registered, clientName: name, username: account?.username, formTargets });
    }
    throw new HttpError(400, 'invalid_request', `unsupported interaction prompt ${found.prompt.name}`);
  });

  router.post('/login', parseForm, async (ctx) => {
    const found = await details(ctx, 'login');
    const login = formString(ctx, 'login', 320).trim();
    const password = formString(ctx, 'password', 1024);
    const client_id = String(found.params.client_id);
    const result = await signIn(login, password, ctx.ip);
    switch (result.outcome) {
      case 'success': {
        // An account that signed up and has not verified its email waits (signup.requireVerifiedEmail).
        if (await emailCheck.hold(ctx, found, result.account)) return;
        // A second factor to ask for: the first waits in the interaction, the page asks (GET).
        const first = { accountId: result.account.id, at: Date.now(), amr: ['pwd' as const] };
        if (await secondFactor.afterFirstFactor(ctx, found, first, 'password')) {
          ctx.status = 303;
          ctx.redirect(interactionUrl(found.uid));
        }
        return;
      }
      case 'failure':
        audit('login', { outcome: 'failure', client_id, ip: ctx.ip, failures: result.failures });
        return sendLogin(ctx, found, { login, error: 'login.failed' });
      case 'locked':
        // Same words as any failed login: a lockout must not tell whether the account exists.
        audit('login', { outcome: 'locked', client_id, ip: ctx.ip, reason: result.reason });
        ctx.status = 429;
        ctx.set('Retry-After', String(result.retryAfter));
        return sendLogin(ctx, found, { login, error: 'login.failed' });
      case 'busy':
        audit('login', { outcome: 'busy', client_id, ip: ctx.ip });
        ctx.status = 503;
        ctx.set('Retry-After', String(result.retryAfter));
        return sendLogin(ctx, found, { login, error: 'login.busy' });
    }
  });

  addPasskeyLogin(router, steps, { accounts, factors, audit });
  addUpstreamLogin(router, steps, secondFactor.afterFirstFactor, { provider, upstreams: deps.upstreams, federated: deps.federated, accounts, signIn, factors, csrf, sendPage, audit });
  secondFactor.addRoutes(router);
  addSignup(router, steps, secondFactor.afterFirstFactor, emailCheck, { signup, verification, settings: selfService.signup, csrf, sendPage, i18n, audit });
  emailCheck.addRoutes(router);
  if (selfService.passwordReset.enabled) addForgotPassword(router, steps, { passwordReset: deps.passwordReset, sendPage, csrf, i18n });

  router.post('/consent', parseForm, async (ctx) => {
    const found = await details(ctx, 'consent');
    const result = await finishConsent(provider(), consents, found, (await client(ctx, found)).client);
    audit('consent', { outcome: 'success', actor: found.session?.accountId, client_id: String(found.params.client_id), ip: ctx.ip });
    await finish(ctx, result, true);
  });

  router.post('/abort', parseForm, async (ctx) => {
    const found = await details(ctx);
    audit(found.prompt.name === 'consent' ? 'consent' : 'login', {
      outcome: 'denied',
      actor: found.session?.accountId,
      client_id: String(found.params.client_id),
      ip: ctx.ip,
    });
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    await finish(ctx, result, false);
  });

  return router;
}
