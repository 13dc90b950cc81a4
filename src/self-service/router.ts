import Router from '@koa/router';
import type Provider from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { AccountSessions } from '../accounts/account-sessions.js';
import type { EmailVerification } from '../accounts/email-verification.js';
import type { LoginGuard } from '../accounts/login-guard.js';
import type { Audit } from '../audit.js';
import type { AccountLinks } from '../accounts/account-links.js';
import type { ConsentService } from '../consents/consent-service.js';
import type { Email } from '../email/create-email.js';
import type { Config } from '../config/schema.js';
import type { Factors } from '../factors/create-factors.js';
import type { I18n } from '../i18n/i18n.js';
import type { Csrf } from '../http/csrf.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { noCache } from '../http/no-cache.js';
import type { SendPage } from '../pages/send-page.js';
import { accountLoginUrl } from './account-client.js';
import { createAccountPage } from './account-page.js';
import { addCredentialRoutes } from './credential-routes.js';
import { createSendMessage } from './message-page.js';
import { createPasswordCheck } from './password-check.js';
import { addSessionRoutes } from './session-routes.js';
import { addPasskeyRoutes } from './passkey-routes.js';
import { createSignedIn } from './signed-in.js';
import { addTotpRoutes } from './totp-routes.js';
import { addUpstreamRoutes, linkedUpstreams } from './upstream-routes.js';
import type { FederatedAccounts } from '../upstreams/federated-accounts.js';
import type { UpstreamSignIn } from '../upstreams/upstream-sign-in.js';

export interface SelfServiceDeps {
  provider: () => Provider;
  issuer: string;
  accounts: AccountService;
  consents: ConsentService;
  /** passkeys, TOTP and recovery codes the user manages here */
  factors: Factors;
  mfa: Config['mfa'];
  /** email for address changes (verification) */
  email: Email;
  /** single-use links in those emails */
  links: AccountLinks;
  /** sends the link that verifies a new address */
  verification: EmailVerification;
  /** the per-account lock: the current password asked before a change counts against it */
  guard: LoginGuard;
  /** the account's browser sessions (listing and ending them) */
  sessions: AccountSessions;
  passwords: Config['passwords'];
  i18n: I18n;
  sendPage: SendPage;
  csrf: Csrf;
  audit: Audit;
  /** the account's links to upstream providers: listed, and removed */
  federated: FederatedAccounts;
  upstreams: UpstreamSignIn;
}

/**
 * /account: the signed-in user's profile, their sign-in methods (passkeys, authenticator app,
 * recovery codes: passkey-routes.ts, totp-routes.ts) and the apps they let in, each revocable (its
 * consent, every grant of it and their tokens go); their password, email and the account itself
 * (credential-routes.ts) and where they are signed in (session-routes.ts). Without a session it
 * sends the user through the login page; every change also needs a recent sign-in (signed-in.ts).
 */
export function createSelfServiceRouter(deps: SelfServiceDeps): Router {
  const { provider, issuer, accounts, consents, factors, mfa, sendPage, csrf, audit } = deps;
  const router = new Router({ prefix: '/account' });
  const signedIn = createSignedIn({ provider, issuer, accounts, csrf, mfa });
  const accountPage = createAccountPage({ provider, consents, factors: factors.service, signedIn, linkedUpstreams: (id) => linkedUpstreams(deps.federated, deps.upstreams, id) });

  router.use(noCache);

  router.get('/', async (ctx) => {
    const visitor = await signedIn.current(ctx);
    if (!visitor) return ctx.redirect(accountLoginUrl(issuer));
    sendPage(ctx, 'account', await accountPage(visitor, ctx.query));
  });

  router.get('/callback', async (ctx) => {
    if (typeof ctx.query.error === 'string') throw new HttpError(400, 'access_denied', 'sign-in was cancelled', { messageKey: 'errors.signInCancelled' });
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/revoke', parseForm, async (ctx) => {
    const { session } = await signedIn.posted(ctx);
    const clientId = formString(ctx, 'client_id', 256);
    // Forgets the consent and revokes every grant of this user and app, with its codes and tokens.
    const grants = await consents.removeAccess(session.accountId!, clientId);
    audit('consent.revoked', { outcome: 'success', actor: session.accountId, client_id: clientId, ip: ctx.ip, grants: grants.length });
    ctx.status = 303;
    ctx.redirect('/account');
  });

  addPasskeyRoutes(router, { factors, signedIn, audit, linkCount: async (id) => (await deps.federated.linksOf(id)).length });
  addUpstreamRoutes(router, { federated: deps.federated, upstreams: deps.upstreams, factors, signedIn, audit });
  addTotpRoutes(router, { factors, signedIn, sendPage, audit });
  addSessionRoutes(router, { sessions: deps.sessions, signedIn, sendPage, issuer, audit });
  addCredentialRoutes(router, {
    accounts,
    verification: deps.verification,
    checkPassword: createPasswordCheck({ guard: deps.guard, passwords: accounts.passwords }),
    signedIn,
    sendPage,
    sendMessage: createSendMessage(sendPage, deps.i18n),
    i18n: deps.i18n,
    policy: deps.passwords,
    forgetSession: (ctx) => ctx.cookies.set(provider().cookieName('session'), null, { httpOnly: true, sameSite: 'lax', secure: issuer.startsWith('https:') }),
    audit,
  });

  return router;
}
