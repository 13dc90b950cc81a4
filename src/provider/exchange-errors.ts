import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

import { tokenExchangeGrant } from '../clients/client-policy.js';
import type { Refusal } from '../tokens/exchange-policy.js';

/** A refusal of the exchange rules as oidc-provider's error of the same code (status 400, exposed). */
const errorFor = (refusal: Refusal): Error => {
  switch (refusal.error) {
    case 'invalid_target':
      return new errors.InvalidTarget(refusal.description);
    case 'invalid_scope':
      return new errors.InvalidScope(refusal.description, '');
    case 'unauthorized_client':
      return new errors.UnauthorizedClient(refusal.description);
    default:
      return new errors.InvalidRequest(refusal.description);
  }
};

const isRefusal = (value: unknown): value is Refusal =>
  typeof value === 'object' && value !== null && 'error' in value && 'description' in value;

/** The value, or throws the refusal as its OAuth error. */
export function accept<T>(result: T | Refusal): T {
  if (isRefusal(result)) throw errorFor(result);
  return result;
}

/** Throws the refusal, if there is one, as its OAuth error. */
export function refuseIf(refusal: Refusal | undefined): void {
  if (refusal) throw errorFor(refusal);
}

/**
 * oidc-provider answers a client using a grant type it is not registered for with invalid_request;
 * RFC 6749 §5.2 (and RFC 8693's clients) expect unauthorized_client. Only token exchange's answer
 * is renamed, so the other grants keep theirs.
 */
export const unauthorizedClientForTokenExchange = (provider: Provider) => (ctx: KoaContextWithOIDC, next: () => Promise<void>) =>
  // the token endpoint is POST only: every other request passes without a promise of ours
  ctx.method === 'POST' ? next().then(() => renameRefusal(provider, ctx)) : next();

function renameRefusal(provider: Provider, ctx: KoaContextWithOIDC): void {
  const body = ctx.body as { error?: string; error_description?: string } | undefined;
  if (ctx.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== tokenExchangeGrant) return;
  if (body?.error !== 'invalid_request' || body.error_description !== 'requested grant type is not allowed for this client') return;
  ctx.body = { error: 'unauthorized_client', error_description: 'this client is not registered for token exchange' };
  provider.emit('token_exchange.error', ctx, new errors.UnauthorizedClient('this client is not registered for token exchange'));
}
