import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { LoginGuard } from '../accounts/login-guard.js';
import type { Audit } from '../audit.js';
import { acr, acrFor, passkeyAmr, type Amr } from '../factors/assurance.js';
import type { Factors } from '../factors/create-factors.js';
import type { Csrf } from '../http/csrf.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import type { SendPage } from '../pages/send-page.js';
import { forgetFirstFactor, pendingFirstFactor, rememberFirstFactor, twoFactorAmr, type FirstFactor } from './first-factor.js';
import { maxCredentialLength } from './passkey-login.js';
import { interactionUrl } from './paths.js';
import type { Details, Steps } from './steps.js';

export interface SecondFactorDeps {
  provider: () => Provider;
  accounts: AccountService;
  factors: Factors;
  /** the per-account lock: a wrong code counts like a wrong password */
  guard: LoginGuard;
  csrf: Csrf;
  sendPage: SendPage;
  audit: Audit;
}

type MfaMessage = 'mfa.failed' | 'mfa.locked' | 'mfa.passkeyFailed';

/** This request needs a multi-factor sign-in (src/provider/mfa-policy.ts asked for it). */
const mfaRequired = (found: Details) => found.prompt.reasons.includes('mfa_required');

/** A signed-in session asked only for more: its account goes straight to the second step. */
const isStepUp = (found: Details) => !!found.session?.accountId && found.prompt.reasons.length > 0 && found.prompt.reasons.every((r) => r === 'mfa_required');

/**
 * The second step of a sign-in, after a right password (or for a session that must step up): a
 * TOTP code, a recovery code, or one of the account's passkeys. The first factor waits in the
 * interaction (first-factor.ts) for ten minutes; wrong codes count against the account's lock.
 */
export function createSecondFactor(steps: Steps, { provider, accounts, factors, guard, csrf, sendPage, audit }: SecondFactorDeps) {
  const sendMfa = async (ctx: Context, found: Details, first: FirstFactor, error?: MfaMessage) => {
    const [{ name, formTargets }, summary] = await Promise.all([steps.client(ctx, found), factors.service.summary(first.accountId)]);
    const page = {
      interaction: interactionUrl(found.uid),
      csrf: csrf.token(found.uid),
      clientName: name,
      totp: summary.totp,
      recovery: summary.recoveryCodesLeft > 0,
      passkeys: summary.passkeys.length > 0,
      error,
    };
    sendPage(ctx, 'mfa', page, { locale: ctx.state.locale as string, formTargets });
  };

  /** No fresh first factor (expired, or none): the interaction page starts again. */
  const startAgain = (ctx: Context, found: Details) => {
    ctx.status = 303;
    ctx.redirect(interactionUrl(found.uid));
  };

  const finishTwoFactor = async (ctx: Context, found: Details, first: FirstFactor, second: Amr, audited: Record<string, unknown>) => {
    const client_id = String(found.params.client_id);
    if (!(await accounts.find(first.accountId))) {
      await forgetFirstFactor(provider(), ctx);
      return steps.sendLogin(ctx, found);
    }
    audit('login', { outcome: 'success', actor: first.accountId, client_id, ip: ctx.ip, ...audited });
    return steps.finish(ctx, { login: { accountId: first.accountId, amr: twoFactorAmr(first, second), acr: acr.multiFactor } }, false);
  };

  /**
   * After a right first factor: the sign-in is done (no second factor, none needed), refused (one
   * is needed and the account has none: never silently less), or the first factor is remembered
   * and the second step must be shown (returns true).
   */
  async function afterFirstFactor(ctx: Context, found: Details, first: FirstFactor, method: 'password' | 'session' | 'upstream'): Promise<boolean> {
    const client_id = String(found.params.client_id);
    const fields = { actor: first.accountId, client_id, ip: ctx.ip, method };
    if (await factors.service.hasSecondFactor(first.accountId)) {
      await rememberFirstFactor(provider(), ctx, first);
      audit('login.first_factor', { outcome: 'success', ...fields });
      return true;
    }
    if (!mfaRequired(found)) {
      audit('login', { outcome: 'success', ...fields });
      await steps.finish(ctx, { login: { accountId: first.accountId, amr: first.amr, acr: acrFor(first.amr) } }, false);
      return false;
    }
    audit('login', { outcome: 'denied', ...fields, reason: 'no_second_factor' });
    const error = { error: 'unmet_authentication_requirements', error_description: 'this app requires a second factor; set one up on your account page first' };
    await steps.finish(ctx, error, false);
    return false;
  }

  /** GET on the interaction at its login prompt: the second step when one is waiting, else the login page. */
  async function showLoginPrompt(ctx: Context, found: Details): Promise<void> {
    const pending = pendingFirstFactor(found);
    if (pending && pending !== 'expired') return sendMfa(ctx, found, pending);
    if (isStepUp(found)) {
      const { accountId, amr = [] } = found.session!;
      if (await accounts.find(accountId)) {
        const first: FirstFactor = { accountId, at: Date.now(), amr: amr as Amr[] };
        if (await afterFirstFactor(ctx, found, first, 'session')) await sendMfa(ctx, found, first);
        return;
      }
    }
    if (pending === 'expired') {
      await forgetFirstFactor(provider(), ctx);
      return steps.sendLogin(ctx, found, { error: 'login.expired' });
    }
    return steps.sendLogin(ctx, found);
  }

  /** The interaction's fresh first factor, for the second step's routes. */
  const waiting = (found: Details) => {
    const first = pendingFirstFactor(found);
    return first === 'expired' ? undefined : first;
  };

  function addRoutes(router: Router): void {
    router.get('/mfa/passkey/options', async (ctx) => {
      const found = await steps.details(ctx, 'login');
      const first = waiting(found);
      if (!first) throw new HttpError(400, 'invalid_request', 'no sign-in is waiting for a second factor; start again');
      ctx.body = await factors.passkeys.authenticationOptions(`mfa:${found.uid}`, first.accountId);
    });

    router.post('/mfa', parseForm, async (ctx) => {
      const found = await steps.details(ctx, 'login');
      const first = waiting(found);
      if (!first) return startAgain(ctx, found);
      const code = formString(ctx, 'code', 64).replace(/\s+/g, '');
      if (!code) return sendMfa(ctx, found, first, 'mfa.failed');
      const fields = { actor: first.accountId, client_id: String(found.params.client_id), ip: ctx.ip };
      const verdict = await guard.begin(`account:${first.accountId}`, ctx.ip);
      if (!verdict.allowed) {
        audit('login', { outcome: 'locked', method: 'otp', ...fields, reason: verdict.reason });
        ctx.status = 429;
        ctx.set('Retry-After', String(verdict.retryAfter));
        return sendMfa(ctx, found, first, 'mfa.locked');
      }
      let method: 'totp' | 'recovery' | undefined;
      try {
        method = await factors.service.verifyCode(first.accountId, code);
      } catch (err) {
        await guard.released(verdict.ticket);
        throw err;
      }
      if (!method) {
        audit('login', { outcome: 'failure', method: 'otp', ...fields, failures: await guard.failed(verdict.ticket) });
        return sendMfa(ctx, found, first, 'mfa.failed');
      }
      await guard.succeeded(verdict.ticket);
      const audited = method === 'totp' ? { method: 'totp' } : { method: 'recovery_code', codes_left: (await factors.service.summary(first.accountId)).recoveryCodesLeft };
      return finishTwoFactor(ctx, found, first, 'otp', audited);
    });

    router.post('/mfa/passkey', parseForm, async (ctx) => {
      const found = await steps.details(ctx, 'login');
      const first = waiting(found);
      if (!first) return startAgain(ctx, found);
      const answer = formString(ctx, 'credential', maxCredentialLength);
      const result = await factors.passkeys.signIn(answer, `mfa:${found.uid}`, first.accountId);
      if (!result.ok) {
        audit('login', { outcome: 'failure', method: 'passkey', actor: first.accountId, client_id: String(found.params.client_id), ip: ctx.ip, reason: result.reason });
        if (result.reason === 'malformed') ctx.status = 400;
        return sendMfa(ctx, found, first, 'mfa.passkeyFailed');
      }
      return finishTwoFactor(ctx, found, first, passkeyAmr(result.passkey.deviceType), { method: 'passkey' });
    });
  }

  return { afterFirstFactor, showLoginPrompt, addRoutes };
}

export type SecondFactor = ReturnType<typeof createSecondFactor>;
