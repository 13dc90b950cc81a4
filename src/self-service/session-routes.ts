import type Router from '@koa/router';
import type { Context } from 'koa';

import type { AccountSession, AccountSessions } from '../accounts/account-sessions.js';
import type { Audit } from '../audit.js';
import { formString, parseForm } from '../http/form-body.js';
import type { SendPage } from '../pages/send-page.js';
import { accountLoginUrl } from './account-client.js';
import { deviceName } from './device-name.js';
import type { SignedInHelper } from './signed-in.js';

export interface SessionRouteDeps {
  sessions: AccountSessions;
  signedIn: SignedInHelper;
  sendPage: SendPage;
  issuer: string;
  audit: Audit;
}

/** What /account/sessions?notice=… may say after a change. */
const notices = { ended: 'sessions.ended', 'others-ended': 'sessions.othersEnded', gone: 'sessions.gone' } as const;

/** A time as the page shows it: `2026-11-29 13:05 UTC`. */
const when = (ms: number | null | undefined) => (typeof ms === 'number' ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : null);

const view = (s: AccountSession) => ({
  handle: s.handle,
  current: s.current,
  ...deviceName(s.info?.userAgent ?? ''),
  ip: s.info?.ip || null,
  lastSeen: when(s.info?.lastSeen),
  signedIn: when(s.signedInAt),
});

const back = (ctx: Context, notice: keyof typeof notices) => {
  ctx.status = 303;
  ctx.redirect(`/account/sessions?notice=${notice}`);
};

/**
 * /account/sessions: where the account is signed in (browser and system from the User-Agent,
 * address, last use, sign-in time; this browser marked), signing out one of the others, or all of
 * them ("everywhere else"). Signing out this browser is the usual sign-out (/session/end).
 */
export function addSessionRoutes(router: Router, { sessions, signedIn, sendPage, issuer, audit }: SessionRouteDeps): void {
  router.get('/sessions', async (ctx) => {
    const visitor = await signedIn.current(ctx);
    if (!visitor) return ctx.redirect(accountLoginUrl(issuer));
    const list = await sessions.list(visitor.account.id, visitor.session.jti);
    const notice = typeof ctx.query.notice === 'string' && Object.hasOwn(notices, ctx.query.notice) ? notices[ctx.query.notice as keyof typeof notices] : undefined;
    sendPage(ctx, 'account-sessions', {
      sessions: list.map(view),
      others: list.filter((s) => !s.current).length,
      csrf: signedIn.csrfToken(visitor.session),
      recent: signedIn.recent(visitor.session),
      notice,
    });
  });

  router.post('/sessions/end', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const handle = formString(ctx, 'session', 64);
    const ended = await sessions.end(visitor.account.id, handle, visitor.session.jti);
    audit('session.ended', { outcome: ended ? 'success' : 'failure', actor: visitor.account.id, ip: ctx.ip, grants: ended?.grants });
    back(ctx, ended ? 'ended' : 'gone');
  });

  router.post('/sessions/end-others', parseForm, async (ctx) => {
    const visitor = await signedIn.forChange(ctx);
    if (!visitor) return;
    const { session } = visitor;
    const ended = await sessions.endOthers(visitor.account.id, { id: session.jti, authorizations: session.authorizations });
    audit('session.ended', { outcome: 'success', actor: visitor.account.id, ip: ctx.ip, others: true, ...ended });
    back(ctx, 'others-ended');
  });
}
