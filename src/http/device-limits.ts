import { createHash } from 'node:crypto';
import type { Middleware, ParameterizedContext } from 'koa';

import { clientAddressKey } from '../limits/client-address.js';
import { countHit, type WindowLimit } from '../limits/fixed-window.js';
import type { CounterEntry, CounterStore } from '../storage/types.js';
import { HttpError } from './http-error.js';
import { noStore } from './no-cache.js';

export interface DeviceLimits {
  pagesPerIpPerMinute: number;
  codeEntriesPerIpPerMinute: number;
  wrongCodesPerSession: number;
}

export interface DeviceLimitDeps {
  counters: CounterStore;
  limits: DeviceLimits;
  /** the session cookie's name (__Host- prefixed with an https issuer) */
  sessionCookie: () => string;
}

/** oidc-provider's device pages: /device (code entry and confirmation) and /device/:uid (resume). */
const isDevicePage = (path: string) => path === '/device' || (path.startsWith('/device/') && path !== '/device/auth');

/** What oidc-provider made of the request, once it has handled it (its ctx.oidc, if the route had one). */
function deviceOutcome(ctx: ParameterizedContext): { userCode: unknown; found: boolean } {
  try {
    const oidc = (ctx as { oidc?: { params?: { user_code?: unknown }; entities?: { DeviceCode?: unknown } } }).oidc;
    return { userCode: oidc?.params?.user_code, found: oidc?.entities?.DeviceCode !== undefined };
  } catch {
    return { userCode: undefined, found: false };
  }
}

function tooMany(ctx: ParameterizedContext, retryAfter: number, codes: boolean): HttpError {
  ctx.set('Retry-After', String(retryAfter));
  return codes
    ? new HttpError(429, 'too_many_requests', 'too many codes were entered; wait a while and try again', { messageKey: 'errors.tooManyCodes' })
    : new HttpError(429, 'too_many_requests', 'too many requests from your network; wait a minute and try again', {
        messageKey: 'errors.tooManyRequests',
      });
}

const perMinute = (limit: number): WindowLimit => ({ limit, windowSeconds: 60 });

/**
 * Device pages are limited per client address (each load of /device opens an anonymous session),
 * counted in the store so every node counts together, and sent with `Cache-Control: no-store`.
 */
export function limitDevicePages({ counters, limits }: Omit<DeviceLimitDeps, 'sessionCookie'>): Middleware {
  return async function limitDeviceRequests(ctx, next) {
    if (!isDevicePage(ctx.path)) return next();
    noStore(ctx);
    const pages = await countHit(counters, `device-pages:${clientAddressKey(ctx.ip)}`, perMinute(limits.pagesPerIpPerMinute));
    if (!pages.allowed) throw tooMany(ctx, pages.retryAfter, false);
    await next();
    noStore(ctx);
  };
}

/**
 * RFC 8628 §5.1: user codes are short, so guessing them must be slow. Code entries (POST /device)
 * are limited per client address, and wrong codes per browser session; an entry counts as wrong
 * until oidc-provider has found its code, then it is given back.
 */
export function limitCodeEntries({ counters, limits, sessionCookie }: DeviceLimitDeps): Middleware {
  const wrongCodes: WindowLimit = { limit: limits.wrongCodesPerSession, windowSeconds: 3600 };
  /** The wrong-code counter of the request's session cookie (hashed: cookie values are secret and unbounded). */
  const sessionKey = (ctx: ParameterizedContext) => {
    const value = ctx.cookies.get(sessionCookie(), { signed: false });
    return value ? `device-wrong:${createHash('sha256').update(value).digest('base64url')}` : undefined;
  };

  return async function limitUserCodes(ctx, next) {
    if (ctx.method !== 'POST' || ctx.path !== '/device') return next();
    const byIp = await countHit(counters, `device-codes:${clientAddressKey(ctx.ip)}`, perMinute(limits.codeEntriesPerIpPerMinute));
    if (!byIp.allowed) throw tooMany(ctx, byIp.retryAfter, true);
    const key = sessionKey(ctx);
    const bySession = key ? await countHit(counters, key, wrongCodes) : undefined;
    if (bySession && !bySession.allowed) throw tooMany(ctx, bySession.retryAfter, true);
    await next();
    const { userCode, found } = deviceOutcome(ctx);
    if (key && (found || !userCode)) await counters.update(key, giveBack);
  };
}

const giveBack = (current: CounterEntry | undefined): CounterEntry | undefined =>
  current && { state: { ...current.state, n: Math.max(0, (current.state.n ?? 0) - 1) }, expiresAt: current.expiresAt };
