import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import { hasPassword } from '../accounts/password.js';
import type { SignIn } from '../accounts/sign-in.js';
import type { AccountService } from '../accounts/account-service.js';
import type { Audit } from '../audit.js';
import { acr, passkeyAmr, type Amr } from '../factors/assurance.js';
import type { Factors } from '../factors/create-factors.js';
import type { Csrf } from '../http/csrf.js';
import { formString, parseForm } from '../http/form-body.js';
import type { SendPage } from '../pages/send-page.js';
import type { FederatedAccounts } from '../upstreams/federated-accounts.js';
import { UpstreamError } from '../upstreams/upstream-error.js';
import { upstreamSignInSeconds, type PendingUpstream, type UpstreamSignIn } from '../upstreams/upstream-sign-in.js';
import { DuplicateError, type UpstreamRecord } from '../storage/types.js';
import type { FirstFactor } from './first-factor.js';
import { maxCredentialLength } from './passkey-login.js';
import { interactionUrl } from './paths.js';
import type { Details, LoginMessage, Steps } from './steps.js';

export interface UpstreamLoginDeps {
  provider: () => Provider;
  upstreams: UpstreamSignIn;
  federated: FederatedAccounts;
  accounts: AccountService;
  /** password sign-in (with the brute-force guard): proving an account before it is linked */
  signIn: SignIn;
  factors: Factors;
  csrf: Csrf;
  sendPage: SendPage;
  audit: Audit;
}

/** A link waiting for the user to prove the account (password or passkey). */
interface PendingLink {
  upstreamId: string;
  subject: string;
  accountId: string;
  at: number;
}

type AfterFirstFactor = (ctx: Context, found: Details, first: FirstFactor, method: 'password' | 'session' | 'upstream') => Promise<boolean>;

const stored = (found: Details) => (found.result as { idport?: { upstream?: Partial<PendingUpstream>; upstreamLink?: Partial<PendingLink> } } | undefined)?.idport;

const fresh = (at: unknown) => typeof at === 'number' && Date.now() - at < upstreamSignInSeconds * 1000 && at <= Date.now() + 60_000;

function pendingUpstream(found: Details): PendingUpstream | undefined {
  const p = stored(found)?.upstream;
  if (!p || typeof p.upstreamId !== 'string' || typeof p.state !== 'string' || typeof p.nonce !== 'string' || typeof p.codeVerifier !== 'string' || !fresh(p.at)) return undefined;
  return p as PendingUpstream;
}

function pendingLink(found: Details): PendingLink | undefined {
  const p = stored(found)?.upstreamLink;
  if (!p || typeof p.upstreamId !== 'string' || typeof p.subject !== 'string' || typeof p.accountId !== 'string' || !fresh(p.at)) return undefined;
  return p as PendingLink;
}

/** The text of a query parameter, or undefined (repeated or missing). */
const queryText = (ctx: Context, name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined);

/**
 * Sign-in through an upstream, under /interaction/:uid: the button's route sends the browser to
 * the upstream (what to check on its return stays in the interaction), the return route (reached
 * from /upstream/:id/callback) checks it and finds the account (federated-accounts.ts): linked,
 * made just in time, or to be proven with its password or a passkey before it is linked. The
 * upstream's sign-in counts as a first factor (`fed`): an account with a second factor is asked for it.
 */
export function addUpstreamLogin(router: Router, steps: Steps, afterFirstFactor: AfterFirstFactor, deps: UpstreamLoginDeps): void {
  const { provider, upstreams, federated, accounts, signIn, factors, csrf, sendPage, audit } = deps;
  const keep = (ctx: Context, idport: Record<string, unknown>) => provider().interactionResult(ctx.req, ctx.res, { idport }, { mergeWithLastSubmission: false });

  const failed = async (ctx: Context, found: Details, status: number, error: LoginMessage, upstream?: UpstreamRecord) => {
    ctx.status = status;
    await steps.sendLogin(ctx, found, { error, errorParams: { name: upstream ? upstream.buttonLabel ?? upstream.name : '', reference: String(ctx.state.requestId ?? '') } });
  };

  const signedIn = async (ctx: Context, found: Details, accountId: string, amr: Amr[]) => {
    if (await afterFirstFactor(ctx, found, { accountId, at: Date.now(), amr }, 'upstream')) {
      ctx.status = 303;
      ctx.redirect(interactionUrl(found.uid));
    }
  };

  const upstreamOf = async (ctx: Context) => upstreams.find(String((ctx.params as { id?: string }).id ?? ''));

  router.get('/upstream/:id', async (ctx) => {
    const found = await steps.details(ctx, 'login');
    const upstream = await upstreamOf(ctx);
    if (!upstream) return failed(ctx, found, 404, 'login.upstreamUnknown');
    let url: URL;
    try {
      const started = await upstreams.start(upstream, found.uid);
      await keep(ctx, { upstream: started.pending });
      url = started.url;
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      audit('upstream.login', { outcome: 'failure', upstream: upstream.id, client_id: String(found.params.client_id), ip: ctx.ip, reason: err.reason, detail: err.detail });
      return failed(ctx, found, 503, 'login.upstreamUnreachable', upstream);
    }
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get('/upstream/:id/return', async (ctx) => {
    const found = await steps.details(ctx, 'login');
    const upstream = await upstreamOf(ctx);
    const client_id = String(found.params.client_id);
    const pending = pendingUpstream(found);
    const fields = { upstream: upstream?.id, client_id, ip: ctx.ip };
    if (!upstream || !pending || pending.upstreamId !== upstream.id) {
      audit('upstream.login', { outcome: 'failure', ...fields, reason: 'no-pending-sign-in' });
      return failed(ctx, found, 400, 'login.upstreamExpired', upstream);
    }
    // Used once, whatever comes of it: a replayed answer finds nothing to check it against.
    await keep(ctx, {});
    const state = queryText(ctx, 'state');
    if (state !== pending.state) {
      audit('upstream.login', { outcome: 'failure', ...fields, reason: 'state' });
      return failed(ctx, found, 400, 'login.upstreamFailed', upstream);
    }
    const upstreamError = queryText(ctx, 'error');
    if (upstreamError) {
      audit('upstream.login', { outcome: 'denied', ...fields, reason: 'upstream-error', error: upstreamError.slice(0, 64) });
      return failed(ctx, found, 400, upstreamError === 'access_denied' ? 'login.upstreamCancelled' : 'login.upstreamFailed', upstream);
    }
    let profile;
    try {
      profile = await upstreams.finish(upstream, new URLSearchParams(ctx.querystring), pending);
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      audit('upstream.login', { outcome: 'failure', ...fields, reason: err.reason, detail: err.detail, request_id: ctx.state.requestId });
      return err.reason === 'unreachable' ? failed(ctx, found, 503, 'login.upstreamUnreachable', upstream) : failed(ctx, found, 400, 'login.upstreamFailed', upstream);
    }
    const resolution = await federated.resolve(upstream, profile);
    switch (resolution.kind) {
      case 'linked':
      case 'linked-by-email':
      case 'created': {
        const actor = resolution.account.id;
        if (resolution.kind === 'created') audit('upstream.account_created', { outcome: 'success', actor, ...fields, email_verified: profile.emailVerified });
        if (resolution.kind !== 'linked') audit('upstream.link', { outcome: 'success', actor, ...fields, how: resolution.kind === 'created' ? 'jit' : 'verified-email' });
        audit('upstream.login', { outcome: 'success', actor, ...fields });
        return signedIn(ctx, found, actor, ['fed']);
      }
      case 'prove':
        await keep(ctx, { upstreamLink: { upstreamId: upstream.id, subject: profile.subject, accountId: resolution.account.id, at: Date.now() } });
        audit('upstream.login', { outcome: 'denied', ...fields, reason: 'link-needs-proof', actor: resolution.account.id });
        ctx.status = 303;
        return ctx.redirect(`${interactionUrl(found.uid)}/upstream-link`);
      case 'refused':
        audit('upstream.login', { outcome: 'denied', ...fields, reason: resolution.reason });
        return failed(ctx, found, 403, resolution.reason === 'no-account' ? 'login.upstreamNoAccount' : 'login.upstreamEmailInUse', upstream);
    }
  });

  /** The waiting link and its upstream and account, or the login page again. */
  const waitingLink = async (ctx: Context, found: Details) => {
    const link = pendingLink(found);
    const upstream = link && (await upstreams.find(link.upstreamId));
    const account = link && (await accounts.find(link.accountId));
    if (!link || !upstream || !account) {
      await failed(ctx, found, 400, 'login.upstreamExpired', upstream);
      return undefined;
    }
    return { link, upstream, account };
  };

  const sendLinkPage = async (ctx: Context, found: Details, error?: 'upstreamLink.failed' | 'upstreamLink.passkeyFailed') => {
    const waiting = await waitingLink(ctx, found);
    if (!waiting) return;
    const { name, formTargets } = await steps.client(ctx, found);
    const summary = await factors.service.summary(waiting.account.id);
    sendPage(ctx, 'upstream-link', {
      interaction: interactionUrl(found.uid),
      csrf: csrf.token(found.uid),
      clientName: name,
      upstreamName: waiting.upstream.buttonLabel ?? waiting.upstream.name,
      email: waiting.account.email ?? '',
      password: hasPassword(waiting.account),
      passkeys: summary.passkeys.length > 0,
      error,
    }, { locale: ctx.state.locale as string, formTargets });
  };

  /** The account is proven: link the subject, then sign in as usual (a second factor if the account has one). */
  const linkAndSignIn = async (ctx: Context, found: Details, waiting: { link: PendingLink; upstream: UpstreamRecord }, amr: Amr[], multiFactor: boolean) => {
    const { link, upstream } = waiting;
    const fields = { actor: link.accountId, upstream: upstream.id, client_id: String(found.params.client_id), ip: ctx.ip };
    await keep(ctx, {});
    try {
      await federated.link(upstream, link.subject, link.accountId);
    } catch (err) {
      if (!(err instanceof DuplicateError)) throw err;
      // linked meanwhile (to this account or, through another browser, to another): sign in again
      audit('upstream.link', { outcome: 'failure', ...fields, reason: 'linked-already' });
      return failed(ctx, found, 409, 'login.upstreamExpired', upstream);
    }
    audit('upstream.link', { outcome: 'success', ...fields, how: 'proven' });
    audit('upstream.login', { outcome: 'success', ...fields });
    if (multiFactor) return steps.finish(ctx, { login: { accountId: link.accountId, amr, acr: acr.multiFactor } }, false);
    return signedIn(ctx, found, link.accountId, amr);
  };

  router.get('/upstream-link', async (ctx) => sendLinkPage(ctx, await steps.details(ctx, 'login')));

  router.post('/upstream-link', parseForm, async (ctx) => {
    const found = await steps.details(ctx, 'login');
    const waiting = await waitingLink(ctx, found);
    if (!waiting) return;
    const result = await signIn(waiting.account.username, formString(ctx, 'password', 1024), ctx.ip);
    if (result.outcome !== 'success' || result.account.id !== waiting.account.id) {
      audit('upstream.link', { outcome: result.outcome === 'success' ? 'failure' : result.outcome, actor: waiting.account.id, upstream: waiting.upstream.id, ip: ctx.ip, reason: 'password' });
      if (result.outcome === 'locked' || result.outcome === 'busy') ctx.status = result.outcome === 'locked' ? 429 : 503;
      return sendLinkPage(ctx, found, 'upstreamLink.failed');
    }
    return linkAndSignIn(ctx, found, waiting, ['fed', 'pwd'], false);
  });

  router.get('/upstream-link/passkey/options', async (ctx) => {
    const found = await steps.details(ctx, 'login');
    // only the passkeys of the account to be linked are offered (the browser shows no others)
    const link = pendingLink(found);
    ctx.body = await factors.passkeys.authenticationOptions(`link:${found.uid}`, link?.accountId);
  });

  router.post('/upstream-link/passkey', parseForm, async (ctx) => {
    const found = await steps.details(ctx, 'login');
    const waiting = await waitingLink(ctx, found);
    if (!waiting) return;
    // only this account's passkeys: another account's is refused before it counts as used
    const result = await factors.passkeys.signIn(formString(ctx, 'credential', maxCredentialLength), `link:${found.uid}`, waiting.account.id);
    if (!result.ok || result.passkey.accountId !== waiting.account.id) {
      audit('upstream.link', { outcome: 'failure', actor: waiting.account.id, upstream: waiting.upstream.id, ip: ctx.ip, reason: 'passkey' });
      return sendLinkPage(ctx, found, 'upstreamLink.passkeyFailed');
    }
    return linkAndSignIn(ctx, found, waiting, [passkeyAmr(result.passkey.deviceType), 'mfa', 'fed'], true);
  });

  router.post('/upstream-link/cancel', parseForm, async (ctx) => {
    const found = await steps.details(ctx, 'login');
    await keep(ctx, {});
    ctx.status = 303;
    ctx.redirect(interactionUrl(found.uid));
  });
}
