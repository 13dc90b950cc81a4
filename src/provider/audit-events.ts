import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { Audit } from '../audit.js';
import type { Actor } from '../tokens/exchange-policy.js';
import type { ExchangeEvent } from './token-exchange.js';

/** `act` as a list of client ids, the acting one first (none: impersonation). */
const actChain = (act: Actor | undefined): string[] => (act ? [act.sub, ...actChain(act.act)] : []);

/**
 * Turns oidc-provider's events into audit lines: tokens issued (per grant type) and revoked,
 * grants revoked, logouts. Only identifiers (client, subject, grant) — never token values.
 */
export function auditProviderEvents(provider: Provider, audit: Audit): void {
  provider.on('grant.success', (ctx) => {
    audit('token.issued', {
      outcome: 'success',
      grant_type: ctx.oidc.params?.grant_type,
      client_id: ctx.oidc.client?.clientId,
      actor: ctx.oidc.account?.accountId,
      ip: ctx.ip,
    });
  });
  provider.on('grant.error', (ctx, err) => {
    audit('token.issued', {
      outcome: 'failure',
      grant_type: ctx.oidc.params?.grant_type,
      client_id: ctx.oidc.client?.clientId,
      error: (err as { error?: string }).error,
      ip: ctx.ip,
    });
  });
  provider.on('grant.revoked', (ctx, grantId) => {
    audit('grant.revoked', { outcome: 'success', grant_id: grantId, client_id: ctx.oidc.client?.clientId, ip: ctx.ip });
  });
  const emitter = provider as unknown as NodeJS.EventEmitter;
  for (const event of ['access_token.destroyed', 'refresh_token.destroyed', 'client_credentials.destroyed']) {
    emitter.on(event, (token: { clientId?: string; accountId?: string; jti?: string; grantId?: string }) => {
      audit('token.revoked', {
        outcome: 'success',
        token_type: event.split('.')[0],
        client_id: token.clientId,
        actor: token.accountId,
        grant_id: token.grantId,
      });
    });
  }
  // RFC 8693 exchanges (token-exchange.ts): who exchanged whose token for which API, acting how
  const tokenExchange = provider as unknown as {
    on(event: 'token_exchange.success', listener: (ctx: KoaContextWithOIDC, done: ExchangeEvent) => void): void;
    on(event: 'token_exchange.error', listener: (ctx: KoaContextWithOIDC, err: unknown) => void): void;
  };
  tokenExchange.on('token_exchange.success', (ctx, { act, ...done }) => {
    audit('token.exchanged', { outcome: 'success', ...done, act_chain: actChain(act), ip: ctx.ip });
  });
  tokenExchange.on('token_exchange.error', (ctx, err) => {
    const { error, error_description: reason } = err as { error?: string; error_description?: string };
    audit('token.exchanged', { outcome: 'denied', client_id: ctx.oidc?.client?.clientId, error: error ?? 'server_error', reason, ip: ctx.ip });
  });
  provider.on('end_session.success', (ctx) => {
    audit('logout', { outcome: 'success', actor: ctx.oidc.session?.accountId, client_id: ctx.oidc.client?.clientId, ip: ctx.ip });
  });
}
