import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import { allowedClaims } from '../clients/client-access.js';
import type { ConsentService } from '../consents/consent-service.js';
import type { FactorService } from '../factors/factor-service.js';
import { claimsByScope } from '../provider/claims.js';
import type { ConsentRecord } from '../storage/types.js';
import { accountClientId } from './account-client.js';
import type { SignedIn, SignedInHelper } from './signed-in.js';

type Client = InstanceType<Provider['Client']>;

/** What /account?notice=… and ?error=… may say (after a change, Post/Redirect/Get): their messages. */
export const notices = {
  'passkey-added': 'factors.passkeyAdded',
  'passkey-renamed': 'factors.passkeyRenamed',
  'passkey-removed': 'factors.passkeyRemoved',
  'totp-added': 'factors.totpAdded',
  'totp-removed': 'factors.totpRemoved',
  'email-changed': 'account.emailChanged',
  'email-changed-unsent': 'account.emailChangedUnsent',
  'verification-sent': 'account.verificationSent',
  'upstream-unlinked': 'upstreams.unlinked',
} as const;
export const problems = {
  'passkey-failed': 'factors.passkeyFailed',
  'name-required': 'factors.nameRequired',
  'last-way': 'factors.lastWay',
  'verification-limited': 'account.verificationLimited',
  'verification-unavailable': 'account.verificationUnavailable',
} as const;
export type Notice = keyof typeof notices;
export type Problem = keyof typeof problems;

/** After a change: back to the sign-in methods on /account, saying how it went (303, Post/Redirect/Get). */
export function backToAccount(ctx: Context, what: { notice: Notice } | { error: Problem }): void {
  ctx.status = 303;
  ctx.redirect(`/account?${new URLSearchParams(what).toString()}#security`);
}

const pick = <T extends Record<string, string>>(table: T, key: unknown): T[keyof T] | undefined =>
  typeof key === 'string' && Object.hasOwn(table, key) ? table[key as keyof T] : undefined;

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** One app on the page: what it may see of the account (scopes, and the claims they and the user's consent give it). */
function appView(client: Client, consent: ConsentRecord) {
  const scopes = [consent.scope, ...Object.values(consent.resources)].join(' ').split(' ').filter(Boolean);
  const allowed = allowedClaims(client);
  const fromScopes = consent.scope.split(' ').flatMap((s) => (claimsByScope as Record<string, readonly string[]>)[s] ?? []);
  const claims = [...new Set([...fromScopes, ...consent.claims])].filter((c) => c !== 'sub' && allowed.has(c));
  return { clientId: client.clientId, name: client.clientName ?? client.clientId, scopes: [...new Set(scopes)], claims, since: day(consent.updatedAt) };
}

export interface AccountPageDeps {
  provider: () => Provider;
  /** the account's links to upstream providers (upstream-routes.ts) */
  linkedUpstreams: (accountId: string) => Promise<unknown[]>;
  consents: ConsentService;
  factors: FactorService;
  signedIn: SignedInHelper;
}

/** The values of the /account page: profile, sign-in methods, apps, and a notice or problem to show. */
export function createAccountPage({ provider, consents, factors, signedIn, linkedUpstreams }: AccountPageDeps) {
  return async function accountPage({ session, account }: SignedIn, query: Record<string, unknown> = {}) {
    const apps = [];
    for (const consent of await consents.list(account.id)) {
      if (consent.clientId === accountClientId) continue;
      const client = await provider().Client.find(consent.clientId);
      if (client) apps.push(appView(client, consent));
    }
    const summary = await factors.summary(account.id);
    return {
      account,
      apps,
      csrf: signedIn.csrfToken(session),
      /** false: a change sends the user to sign in again first (the page says so) */
      recent: signedIn.recent(session),
      passkeys: summary.passkeys.map((p) => ({ id: p.id, name: p.name, created: day(p.createdAt), lastUsed: p.lastUsedAt === null ? null : day(p.lastUsedAt) })),
      totp: summary.totp,
      recoveryCodesLeft: summary.recoveryCodesLeft,
      upstreams: await linkedUpstreams(account.id),
      notice: pick(notices, query.notice),
      error: pick(problems, query.error),
    };
  };
}
