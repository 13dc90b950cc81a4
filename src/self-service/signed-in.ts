import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { AccountService } from '../accounts/account-service.js';
import type { Config } from '../config/schema.js';
import type { Csrf } from '../http/csrf.js';
import { HttpError } from '../http/http-error.js';
import type { AccountRecord } from '../storage/types.js';
import { accountLoginUrl } from './account-client.js';

export type Session = InstanceType<Provider['Session']>;

/** The visitor of /account: their session and account. */
export interface SignedIn {
  session: Session;
  account: AccountRecord;
}

export interface SignedInDeps {
  provider: () => Provider;
  issuer: string;
  accounts: AccountService;
  csrf: Csrf;
  mfa: Config['mfa'];
}

/**
 * Who is on /account, and the checks every change there passes: a session, the form's CSRF token
 * (bound to the session) and a recent sign-in (else the user signs in again, `prompt=login`).
 */
export function createSignedIn({ provider, issuer, accounts, csrf, mfa }: SignedInDeps) {
  const formId = (session: Session) => `account:${session.uid}`;

  const current = async (ctx: Context): Promise<SignedIn | undefined> => {
    const session = await provider().Session.get(ctx as never);
    const account = session.accountId ? await accounts.find(session.accountId) : undefined;
    return account ? { session, account } : undefined;
  };

  /** Whether the session's sign-in is recent enough to change how the account signs in. */
  const recent = (session: Session) => !session.past(mfa.reauthSeconds);

  const signInAgain = (ctx: Context, account: AccountRecord) => {
    ctx.status = ctx.method === 'GET' ? 302 : 303;
    ctx.redirect(accountLoginUrl(issuer, { prompt: 'login', loginHint: account.username }));
  };

  return {
    current,
    recent,
    csrfToken: (session: Session) => csrf.token(formId(session)),

    /** A POST to /account: session and CSRF token checked (401, 403); the page's form id. */
    async posted(ctx: Context): Promise<SignedIn> {
      const who = await current(ctx);
      if (!who) throw new HttpError(401, 'login_required', 'your session has ended; sign in again', { messageKey: 'errors.sessionEnded' });
      csrf.assert(formId(who.session), ctx.request.body);
      return who;
    },

    /**
     * For a change to the account's sign-in methods: as posted() (for POSTs), and a recent
     * sign-in. Undefined when the user was sent to sign in again (the response is set).
     */
    async forChange(ctx: Context): Promise<SignedIn | undefined> {
      const who = ctx.method === 'POST' ? await this.posted(ctx) : await current(ctx);
      if (!who) {
        ctx.redirect(accountLoginUrl(issuer));
        return undefined;
      }
      if (recent(who.session)) return who;
      signInAgain(ctx, who.account);
      return undefined;
    },

    /** Binds a value to the session (a signed field): e.g. the TOTP secret a setup page shows. */
    sign: (session: Session, purpose: string, value: string) => csrf.token(`${formId(session)}:${purpose}:${value}`),
    verify: (session: Session, purpose: string, value: string, mac: unknown) => csrf.verify(`${formId(session)}:${purpose}:${value}`, mac),
  };
}

export type SignedInHelper = ReturnType<typeof createSignedIn>;
