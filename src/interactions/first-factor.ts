import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { Amr } from '../factors/assurance.js';
import type { Details } from './steps.js';

/** How long a first factor waits for the second: after that the sign-in starts again. */
export const firstFactorSeconds = 600;

/**
 * A first factor that was right (a password, or the session being stepped up), waiting for the
 * second. It lives in the interaction itself, in the store (never in a cookie or a form field):
 * only the browser holding the interaction cookie reaches it, and any node can read it.
 */
export interface FirstFactor {
  accountId: string;
  /** epoch ms when it was checked */
  at: number;
  /** the methods it used (['pwd'], ['fed'], or the session's) */
  amr: Amr[];
}

const knownAmr = new Set<string>(['pwd', 'hwk', 'swk', 'otp', 'mfa', 'user', 'fed']);

/** The interaction's first factor: fresh, `expired`, or none. Anything malformed counts as none. */
export function pendingFirstFactor(found: Details, now = Date.now()): FirstFactor | 'expired' | undefined {
  const stored = (found.result as { idport?: { firstFactor?: unknown } } | undefined)?.idport?.firstFactor as Partial<FirstFactor> | undefined;
  if (!stored || typeof stored.accountId !== 'string' || typeof stored.at !== 'number' || !Array.isArray(stored.amr)) return undefined;
  if (now - stored.at > firstFactorSeconds * 1000 || stored.at > now + 60_000) return 'expired';
  return { accountId: stored.accountId, at: stored.at, amr: stored.amr.filter((m): m is Amr => knownAmr.has(m)) };
}

/**
 * Stores the first factor in the interaction (its `result`, which oidc-provider reads only when
 * the browser comes back to /auth/:uid — and which signs nobody in: it has no `login`).
 */
export async function rememberFirstFactor(provider: Provider, ctx: Context, firstFactor: FirstFactor): Promise<void> {
  await provider.interactionResult(ctx.req, ctx.res, { idport: { firstFactor } }, { mergeWithLastSubmission: false });
}

/** Drops an expired first factor: the next page is the login page. */
export async function forgetFirstFactor(provider: Provider, ctx: Context): Promise<void> {
  await provider.interactionResult(ctx.req, ctx.res, {}, { mergeWithLastSubmission: false });
}

/** The methods of a finished two-step sign-in: the first factor's, the second's, and `mfa`. */
export const twoFactorAmr = (first: FirstFactor, second: Amr): Amr[] => [...new Set<Amr>([...first.amr.filter((m) => m !== 'mfa'), second, 'mfa'])];
