import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { Audit } from '../audit.js';
import { allowedClaims } from '../clients/client-access.js';
import type { ConsentService } from '../consents/consent-service.js';
import type { Config } from '../config/schema.js';
import type { Factors } from '../factors/create-factors.js';
import type { Csrf } from '../http/csrf.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { noCache } from '../http/no-cache.js';
import type { SendPage } from '../pages/send-page.js';
import { claimsByScope } from '../provider/claims.js';
import type { ConsentRecord } from '../storage/types.js';
import { accountClientId, accountLoginUrl } from './account-client.js';

export interface SelfServiceDeps {
  provider: () => Provider;
  issuer: string;
  accounts: AccountService;
  consents: ConsentService;
  /** passkeys, TOTP and recovery codes the user manages here */
  factors: Factors;
  mfa: Config['mfa'];
  sendPage: SendPage;
  csrf: Csrf;
  audit: Audit;
}

type Client = InstanceType<Provider['Client']>;

/** One app on the page: what it may see of the account (scopes, and the claims they and the user's consent give it). */
function appView(client: Client, consent: ConsentRecord) {
  const scopes = [consent.scope, ...Object.values(consent.resources)].join(' ').split(' ').filter(Boolean);
  const allowed = allowedClaims(client);
  const fromScopes = consent.scope.split(' ').flatMap((s) => (claimsByScope as Record<string, readonly string[]>)[s] ?? []);
  const claims = [...new Set([...fromScopes, ...consent.claims])].filter((c) => c !== 'sub' && allowed.has(c));
  return { clientId: client.clientId, name: client.clientName ?? client.clientId, scopes: [...new Set(scopes)], claims, since: new Date(consent.updatedAt).toISOString().slice(0, 10) };
}

/**
 * /account: the signed-in user's profile and the apps they let in, each revocable (its consent,
 * every grant of it and their tokens go). Without a session it sends the user through the login page.
 */
export function createSelfServiceRouter({ provider, issuer, accounts, consents, sendPage, csrf, audit }: SelfServiceDeps): Router {
  const router = new Router({ prefix: '/account' });

  const currentSession = async (ctx: Context) => {
    const session = await provider().Session.get(ctx as never);
    return session.accountId ? session : undefined;
  };

  router.use(noCache);

  router.get('/', async (ctx) => {
    const session = await currentSession(ctx);
    const account = session ? await accounts.find(session.accountId!) : undefined;
    if (!session || !account) return ctx.redirect(accountLoginUrl(issuer));
    const apps = [];
    for (const consent of await consents.list(account.id)) {
      if (consent.clientId === accountClientId) continue;
      const client = await provider().Client.find(consent.clientId);
      if (client) apps.push(appView(client, consent));
    }
    sendPage(ctx, 'account', { account, apps, csrf: csrf.token(`account:${session.uid}`) });
  });

  router.get('/callback', async (ctx) => {
    if (typeof ctx.query.error === 'string') throw new HttpError(400, 'access_denied', 'sign-in was cancelled', { messageKey: 'errors.signInCancelled' });
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/revoke', parseForm, async (ctx) => {
    const session = await currentSession(ctx);
    if (!session) throw new HttpError(401, 'login_required', 'your session has ended; sign in again', { messageKey: 'errors.sessionEnded' });
    csrf.assert(`account:${session.uid}`, ctx.request.body);
    const clientId = formString(ctx, 'client_id', 256);
    // Forgets the consent and revokes every grant of this user and app, with its codes and tokens.
    const grants = await consents.removeAccess(session.accountId!, clientId);
    audit('consent.revoked', { outcome: 'success', actor: session.accountId, client_id: clientId, ip: ctx.ip, grants: grants.length });
    ctx.status = 303;
    ctx.redirect('/account');
  });

  return router;
}
