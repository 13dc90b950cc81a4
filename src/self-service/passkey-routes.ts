import type Router from '@koa/router';
import type { Context } from 'koa';

import { hasWayInBesidesPasskeys } from '../accounts/ways-in.js';
import type { Audit } from '../audit.js';
import type { Factors } from '../factors/create-factors.js';
import { FactorError } from '../factors/factor-service.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import { DuplicateError } from '../storage/types.js';
import { backToAccount } from './account-page.js';
import type { SignedIn, SignedInHelper } from './signed-in.js';

export interface PasskeyRouteDeps {
  factors: Factors;
  signedIn: SignedInHelper;
  audit: Audit;
  /** how many upstream providers the account signs in with (each is another way in) */
  linkCount: (accountId: string) => Promise<number>;
}

/** What a WebAuthn credential id can be (1,023 bytes, base64url) */
const maxCredentialId = 1400;
const maxName = 64;

/** A passkey's name as typed: one line, no control or direction-changing characters, at most 64 characters. */
export function passkeyName(raw: string): string {
  const clean = raw.replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, ' ').replace(/\s+/g, ' ').trim();
  return [...clean].slice(0, maxName).join('').trim();
}

/** The challenge of a passkey enrolment is bound to the session and the account it is for. */
const binding = ({ session, account }: SignedIn) => `enrol:${session.uid}:${account.id}`;

const passkeyId = (ctx: Context): string => {
  const id = (ctx.params as { id?: string }).id ?? '';
  if (!id || id.length > maxCredentialId) throw notFound();
  return id;
};

const notFound = () => new HttpError(404, 'not_found', 'there is no such passkey on your account', { messageKey: 'errors.notFound' });

/**
 * /account/passkeys: the registration options (JSON, for public/passkey.js), adding the passkey
 * the browser made, renaming and removing. Every change needs a recent sign-in and is audited.
 */
export function addPasskeyRoutes(router: Router, { factors, signedIn, audit, linkCount }: PasskeyRouteDeps): void {
  const { passkeys, service } = factors;
  const who = (ctx: Context, { account }: SignedIn) => ({ actor: account.id, ip: ctx.ip, factor: 'passkey' });

  router.get('/passkeys/options', async (ctx) => {
    const visitor = await signedIn.current(ctx);
    if (!visitor || !signedIn.recent(visitor.session)) {
      throw new HttpError(401, 'login_required', 'sign in again to add a passkey', { messageKey: 'errors.sessionEnded' });
    }
    ctx.body = await passkeys.registrationOptions(visitor.account, binding(visitor));
  });

  router.post('/passkeys', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const answer = formString(ctx, 'credential', 16_000, false);
    const name = passkeyName(formString(ctx, 'name', 256, false)) || 'Passkey';
    const result = answer
      ? await passkeys.register(visitor.account, answer, binding(visitor), name).catch((err: unknown) => {
          if (err instanceof DuplicateError) return 'duplicate' as const;
          throw err;
        })
      : ('malformed' as const);
    if (typeof result === 'string') {
      audit('factor.added', { outcome: 'failure', ...who(ctx, visitor), reason: result });
      return backToAccount(ctx, { error: 'passkey-failed' });
    }
    audit('factor.added', { outcome: 'success', ...who(ctx, visitor), passkey_id: result.id });
    backToAccount(ctx, { notice: 'passkey-added' });
  });

  router.post('/passkeys/:id/rename', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const id = passkeyId(ctx);
    const name = passkeyName(formString(ctx, 'name', 256));
    if (!name) return backToAccount(ctx, { error: 'name-required' });
    if (!(await service.renamePasskey(visitor.account.id, id, name))) {
      audit('factor.renamed', { outcome: 'failure', ...who(ctx, visitor), reason: 'not-found' });
      throw notFound();
    }
    audit('factor.renamed', { outcome: 'success', ...who(ctx, visitor), passkey_id: id });
    backToAccount(ctx, { notice: 'passkey-renamed' });
  });

  router.post('/passkeys/:id/remove', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const id = passkeyId(ctx);
    let removed: boolean;
    try {
      const otherWay = await hasWayInBesidesPasskeys(visitor.account, linkCount);
      removed = await service.removePasskey(visitor.account.id, id, { hasPassword: otherWay });
    } catch (err) {
      if (!(err instanceof FactorError)) throw err;
      audit('factor.removed', { outcome: 'denied', ...who(ctx, visitor), reason: 'last-way' });
      return backToAccount(ctx, { error: 'last-way' });
    }
    if (!removed) {
      audit('factor.removed', { outcome: 'failure', ...who(ctx, visitor), reason: 'not-found' });
      throw notFound();
    }
    audit('factor.removed', { outcome: 'success', ...who(ctx, visitor), passkey_id: id });
    backToAccount(ctx, { notice: 'passkey-removed' });
  });
}
