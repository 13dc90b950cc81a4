import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { Audit } from '../audit.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { setFormCsp } from '../http/security-headers.js';
import type { Csrf } from '../interactions/csrf.js';
import type { Store } from '../storage/types.js';
import type { Views } from '../views/render.js';
import { accountClientId, accountLoginUrl } from './account-client.js';

export interface AccountDeps {
  provider: () => Provider;
  issuer: string;
  accounts: AccountService;
  store: Store;
  views: Views;
  csrf: Csrf;
  audit: Audit;
}

/**
 * /account: the signed-in user's profile and the apps they let in, each revocable (its consent,
 * grant and every token of it go). Without a session it sends the user through the login page.
 */
export function createAccountRouter({ provider, issuer, accounts, store, views, csrf, audit }: AccountDeps): Router {
  const router = new Router({ prefix: '/account' });

  const currentSession = async (ctx: Context) => {
    const session = await provider().Session.get(ctx as never);
    return session.accountId ? session : undefined;
  };

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/', async (ctx) => {
    const session = await currentSession(ctx);
    const account = session ? await accounts.find(session.accountId!) : undefined;
    if (!session || !account) return ctx.redirect(accountLoginUrl(issuer));
    const apps = [];
    for (const consent of await store.consents.listByAccount(account.id)) {
      if (consent.clientId === accountClientId) continue;
      const client = await provider().Client.find(consent.clientId);
      const grant = await provider().Grant.find(consent.grantId);
      if (!client || !grant) continue;
      const scopes = [grant.getOIDCScope(), ...Object.keys(grant.resources ?? {}).map((r) => grant.getResourceScope(r))].join(' ').split(' ').filter(Boolean);
      apps.push({ clientId: client.clientId, name: client.clientName ?? client.clientId, scopes, since: new Date(consent.updatedAt).toISOString().slice(0, 10) });
    }
    setFormCsp(ctx, []);
    ctx.type = 'html';
    ctx.body = views.render('account', views.i18n.negotiate(ctx), { account, apps, csrf: csrf.token(`account:${session.uid}`) });
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
    const consent = await store.consents.find(session.accountId!, clientId);
    if (consent) {
      await store.consents.forget(session.accountId!, clientId);
      // Deletes the grant and every code, access and refresh token issued under it.
      await store.model('Grant').revokeByGrantId(consent.grantId);
      audit('consent.revoked', { outcome: 'success', actor: session.accountId, client_id: clientId, ip: ctx.ip, grant_id: consent.grantId });
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  return router;
}
