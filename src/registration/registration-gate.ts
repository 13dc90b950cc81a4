import type { Middleware, ParameterizedContext } from 'koa';

import type { Audit } from '../audit.js';
import { HttpError } from '../http/http-error.js';
import { clientAddressKey } from '../limits/client-address.js';
import { countHit } from '../limits/fixed-window.js';
import type { CounterStore } from '../storage/types.js';
import type { InitialAccessTokens } from './initial-access-tokens.js';

/** oidc-provider's registration endpoint (RFC 7591) and, under it, each client's (RFC 7592). */
export const registrationPath = '/reg';

export interface RegistrationGateDeps {
  mode: 'initial-access-token' | 'open';
  counters: CounterStore;
  tokens: InitialAccessTokens;
  requestsPerIpPerMinute: number;
  audit: Audit;
}

const bearer = (ctx: ParameterizedContext): string | undefined => /^Bearer +(\S+)$/i.exec(ctx.get('authorization'))?.[1];

function refuse(ctx: ParameterizedContext, description: string): never {
  ctx.set('WWW-Authenticate', `Bearer realm="registration", error="invalid_token", error_description="${description}"`);
  throw new HttpError(401, 'invalid_token', description);
}

/**
 * In front of oidc-provider's /reg routes: every request counts against its address's limit;
 * in initial-access-token mode a registration takes one use of a valid token first (given back
 * if the registration then fails), which every node counts in the shared store.
 */
export function guardRegistration({ mode, counters, tokens, requestsPerIpPerMinute, audit }: RegistrationGateDeps): Middleware {
  return async function guardRegistrationEndpoint(ctx, next) {
    if (ctx.path !== registrationPath && !ctx.path.startsWith(`${registrationPath}/`)) return next();
    const verdict = await countHit(counters, `registration:${clientAddressKey(ctx.ip)}`, { limit: requestsPerIpPerMinute, windowSeconds: 60 });
    if (!verdict.allowed) {
      ctx.set('Retry-After', String(verdict.retryAfter));
      throw new HttpError(429, 'too_many_requests', 'too many registration requests from your network; wait a minute and try again');
    }
    if (mode !== 'initial-access-token' || ctx.method !== 'POST' || ctx.path !== registrationPath) return next();

    const token = bearer(ctx);
    const taken = token ? await tokens.take(token) : undefined;
    if (!taken) {
      audit('client.registered', { outcome: 'denied', origin: 'registration', ip: ctx.ip, error: 'invalid_token' });
      refuse(ctx, token ? 'the initial access token is unknown, expired, revoked or used up' : 'an initial access token is required (Authorization: Bearer)');
    }
    ctx.state.initialAccessToken = taken.id;
    let registered = false;
    try {
      await next();
      registered = ctx.status === 201;
    } finally {
      if (!registered) await tokens.giveBack(taken.id);
    }
  };
}
