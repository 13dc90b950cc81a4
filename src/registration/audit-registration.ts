import type Provider from 'oidc-provider';

import type { Audit } from '../audit.js';

interface EventContext {
  ip: string;
  state: { initialAccessToken?: string };
  oidc?: { client?: { clientId: string } };
}

/** How the registration was allowed: which initial access token (its id, never the token), or the open endpoint. */
const via = (ctx: EventContext) => (ctx.state.initialAccessToken ? `initial-access-token:${ctx.state.initialAccessToken}` : 'open');

/**
 * Audit lines for dynamic registration and management (RFC 7591/7592): every registration,
 * update and deletion, and every refused one, with the origin `registration`.
 */
export function auditRegistration(provider: Provider, audit: Audit): void {
  const on = provider.on.bind(provider) as (event: string, listener: (...args: never[]) => void) => void;
  const events = [
    ['registration_create', 'client.registered'],
    ['registration_update', 'client.updated'],
    ['registration_delete', 'client.removed'],
    ['registration_read', 'client.read'],
  ] as const;
  for (const [event, name] of events) {
    if (event !== 'registration_read') {
      on(`${event}.success`, (ctx: EventContext, client: { clientId: string }) => {
        audit(name, { outcome: 'success', origin: 'registration', client_id: client.clientId, ip: ctx.ip, ...(event === 'registration_create' ? { via: via(ctx) } : {}) });
      });
    }
    on(`${event}.error`, (ctx: EventContext, err: { error?: string; error_description?: string }) => {
      audit(name, { outcome: 'failure', origin: 'registration', client_id: ctx.oidc?.client?.clientId, ip: ctx.ip, error: err.error, error_description: err.error_description });
    });
  }
}
