import type Router from '@koa/router';

import type { AccountService } from '../accounts/account-service.js';
import type { Audit } from '../audit.js';
import { acr, passkeyAmr } from '../factors/assurance.js';
import type { Factors } from '../factors/create-factors.js';
import { formString, parseForm } from '../http/form-body.js';
import type { Steps } from './steps.js';

/** The longest passkey answer (JSON) a form may carry; real ones are 1-3 kB. */
export const maxCredentialLength = 12_000;

export interface PasskeyLoginDeps {
  accounts: AccountService;
  factors: Factors;
  audit: Audit;
}

/**
 * A passkey as the only factor on the login page (the button, or the username field's autofill):
 * a user-verifying passkey is something the user has plus something they are or know, so the
 * sign-in is multi-factor. Its challenge is bound to this interaction (`login:<uid>`).
 */
export function addPasskeyLogin(router: Router, steps: Steps, { accounts, factors, audit }: PasskeyLoginDeps): void {
  router.get('/passkey/options', async (ctx) => {
    const found = await steps.details(ctx, 'login');
    ctx.body = await factors.passkeys.authenticationOptions(`login:${found.uid}`);
  });

  router.post('/passkey', parseForm, async (ctx) => {
    const found = await steps.details(ctx, 'login');
    const client_id = String(found.params.client_id);
    const answer = formString(ctx, 'credential', maxCredentialLength);
    const result = await factors.passkeys.signIn(answer, `login:${found.uid}`);
    const account = result.ok ? await accounts.find(result.passkey.accountId) : undefined;
    if (!result.ok || !account) {
      const reason = result.ok ? 'unknown-account' : result.reason;
      audit('login', { outcome: 'failure', method: 'passkey', reason, client_id, ip: ctx.ip });
      // The page never says why: which passkeys exist, and whose, is nobody's business.
      if (reason === 'malformed') ctx.status = 400;
      return steps.sendLogin(ctx, found, { error: 'login.passkeyFailed' });
    }
    audit('login', { outcome: 'success', method: 'passkey', actor: account.id, client_id, ip: ctx.ip });
    const login = { accountId: account.id, amr: [passkeyAmr(result.passkey.deviceType), 'mfa'], acr: acr.multiFactor };
    return steps.finish(ctx, { login }, false);
  });
}
