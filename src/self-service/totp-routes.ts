import type Router from '@koa/router';
import type { Context } from 'koa';

import type { Audit } from '../audit.js';
import type { Factors } from '../factors/create-factors.js';
import { FactorError } from '../factors/factor-service.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import type { SendPage } from '../pages/send-page.js';
import { backToAccount } from './account-page.js';
import { qrCodeSvg } from './qr-code.js';
import type { SignedIn, SignedInHelper } from './signed-in.js';

export interface TotpRouteDeps {
  factors: Factors;
  signedIn: SignedInHelper;
  sendPage: SendPage;
  audit: Audit;
}

/** The secret in groups of four, for typing it into an app by hand. */
const inGroups = (secret: string) => secret.match(/.{1,4}/g)!.join(' ');

/** The otpauth:// URI a setup form carries (signed, so it is the one this session was shown). */
const secretOf = (uri: string) => {
  try {
    return new URL(uri).searchParams.get('secret') ?? '';
  } catch {
    return '';
  }
};

/**
 * /account/totp (setting up an authenticator app: QR code, key, confirming code), removing it,
 * and /account/recovery-codes (new codes, shown once). The secret is stored only once a code from
 * the app matches; until then it lives in the setup form, signed for this session.
 */
export function addTotpRoutes(router: Router, { factors, signedIn, sendPage, audit }: TotpRouteDeps): void {
  const { service } = factors;
  const who = (ctx: Context, { account }: SignedIn, factor: string) => ({ actor: account.id, ip: ctx.ip, factor });

  const showSetup = async (ctx: Context, { session }: SignedIn, uri: string, error?: string) => {
    sendPage(ctx, 'totp-setup', {
      csrf: signedIn.csrfToken(session),
      setup: uri,
      setupMac: signedIn.sign(session, 'totp', uri),
      secret: inGroups(secretOf(uri)),
      qr: await qrCodeSvg(uri),
      error,
    });
  };

  const showCodes = (ctx: Context, codes: string[], totpAdded = false) => sendPage(ctx, 'recovery-codes', { codes, totpAdded });

  router.get('/totp', async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    await showSetup(ctx, visitor, service.newTotp(visitor.account.username).uri);
  });

  router.post('/totp', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const uri = formString(ctx, 'setup', 1024);
    if (!signedIn.verify(visitor.session, 'totp', uri, (ctx.request.body as Record<string, unknown>).setup_mac)) {
      throw new HttpError(403, 'invalid_request', 'the form expired or did not come from this site; go back and try again', { messageKey: 'errors.formExpired' });
    }
    const code = formString(ctx, 'code', 64).replace(/\s/g, '');
    let codes: string[] | undefined;
    try {
      codes = await service.confirmTotp(visitor.account.id, secretOf(uri), code);
    } catch (err) {
      if (!(err instanceof FactorError)) throw err;
      audit('factor.added', { outcome: 'failure', ...who(ctx, visitor, 'totp'), reason: 'wrong-code' });
      // (the same page again, as the sign-in pages answer a wrong password or code)
      return showSetup(ctx, visitor, uri, 'factors.totpWrongCode');
    }
    audit('factor.added', { outcome: 'success', ...who(ctx, visitor, 'totp') });
    if (!codes) return backToAccount(ctx, { notice: 'totp-added' });
    audit('factor.added', { outcome: 'success', ...who(ctx, visitor, 'recovery-codes'), count: codes.length });
    showCodes(ctx, codes, true);
  });

  router.post('/totp/remove', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    if (await service.removeTotp(visitor.account.id)) audit('factor.removed', { outcome: 'success', ...who(ctx, visitor, 'totp') });
    backToAccount(ctx, { notice: 'totp-removed' });
  });

  router.post('/recovery-codes', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const codes = await service.newRecoveryCodes(visitor.account.id);
    audit('factor.replaced', { outcome: 'success', ...who(ctx, visitor, 'recovery-codes'), count: codes.length });
    showCodes(ctx, codes);
  });
}
