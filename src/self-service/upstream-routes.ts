import type Router from '@koa/router';

import type { Audit } from '../audit.js';
import type { Factors } from '../factors/create-factors.js';
import { formString, parseForm } from '../http/form-body.js';
import { HttpError } from '../http/http-error.js';
import type { FederatedAccounts } from '../upstreams/federated-accounts.js';
import type { UpstreamSignIn } from '../upstreams/upstream-sign-in.js';
import { backToAccount } from './account-page.js';
import type { SignedInHelper } from './signed-in.js';

export interface UpstreamRouteDeps {
  federated: FederatedAccounts;
  upstreams: UpstreamSignIn;
  factors: Factors;
  signedIn: SignedInHelper;
  audit: Audit;
}

/** The account's links to upstream providers, for the /account page: name and dates. */
export async function linkedUpstreams(federated: FederatedAccounts, upstreams: UpstreamSignIn, accountId: string) {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const views = [];
  for (const link of await federated.linksOf(accountId)) {
    const upstream = await upstreams.find(link.upstreamId);
    views.push({
      upstreamId: link.upstreamId,
      subject: link.subject,
      name: upstream ? (upstream.buttonLabel ?? upstream.name) : link.upstreamId,
      since: day(link.createdAt),
      lastUsed: link.lastUsedAt === null ? null : day(link.lastUsedAt),
    });
  }
  return views;
}

/**
 * /account/upstreams/unlink: removes one of the account's links to an upstream, unless it is the
 * last way the account signs in (no password, passkey or other link). Needs a recent sign-in; audited.
 */
export function addUpstreamRoutes(router: Router, { federated, factors, signedIn, audit }: UpstreamRouteDeps): void {
  router.post('/upstreams/unlink', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const upstreamId = formString(ctx, 'upstream', 64);
    const subject = formString(ctx, 'subject', 255);
    const who = { actor: visitor.account.id, ip: ctx.ip, upstream: upstreamId };
    const passkeys = (await factors.service.summary(visitor.account.id)).passkeys.length;
    const outcome = await federated.unlink(visitor.account, upstreamId, subject, passkeys);
    if (outcome === 'last') {
      audit('upstream.unlink', { outcome: 'denied', ...who, reason: 'last-way' });
      return backToAccount(ctx, { error: 'last-way' });
    }
    if (!outcome) {
      audit('upstream.unlink', { outcome: 'failure', ...who, reason: 'not-found' });
      throw new HttpError(404, 'not_found', 'your account has no such link', { messageKey: 'errors.notFound' });
    }
    audit('upstream.unlink', { outcome: 'success', ...who });
    backToAccount(ctx, { notice: 'upstream-unlinked' });
  });
}
