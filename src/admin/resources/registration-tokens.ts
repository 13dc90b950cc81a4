import { z } from 'zod';

import type { Audit } from '../../audit.js';
import type { InitialAccessTokens } from '../../registration/initial-access-tokens.js';
import type { RegistrationTokenRecord } from '../../storage/types.js';
import { notFound } from '../problem.js';
import { route, type AdminRoute } from '../routes.js';

const iso = (ms: number) => new Date(ms).toISOString();

export const RegistrationToken = z
  .object({ id: z.string(), uses: z.number().int().nullable().describe('registrations it allows; null = any until it expires'), used: z.number().int(), created_at: z.string(), expires_at: z.string() })
  .meta({ id: 'RegistrationToken' });

const view = (t: RegistrationTokenRecord): z.output<typeof RegistrationToken> => ({ id: t.id, uses: t.maxUses, used: t.used, created_at: iso(t.createdAt), expires_at: iso(t.expiresAt) });

/** /registration-tokens: initial access tokens for dynamic client registration, as `idport registration token`. */
export function registrationTokenRoutes({ tokens, audit }: { tokens: InitialAccessTokens; audit: Audit }): AdminRoute[] {
  return [
    route({
      method: 'get', path: '/registration-tokens', operationId: 'listRegistrationTokens', summary: 'List live initial access tokens (never their values)', tag: 'registration', scope: 'admin:registration:read',
      success: { status: 200, schema: z.object({ items: z.array(RegistrationToken) }), description: 'every live token, oldest first' },
      async handle() {
        return { status: 200, body: { items: (await tokens.list()).map(view) } };
      },
    }),
    route({
      method: 'post', path: '/registration-tokens', operationId: 'createRegistrationToken', summary: 'Mint an initial access token; its value is in this answer only', tag: 'registration', scope: 'admin:registration:write', idempotent: true,
      body: z.object({ ttl_seconds: z.number().int().min(60).max(365 * 86400).default(86400), uses: z.number().int().min(1).max(1_000_000).optional() }).strict().meta({ id: 'NewRegistrationToken' }),
      errors: [409, 422],
      success: { status: 201, schema: RegistrationToken.extend({ token: z.string().optional().describe('shown in this answer only') }).meta({ id: 'RegistrationTokenWithValue' }), description: 'the token, with its value (shown once)' },
      // a repeat with the same Idempotency-Key gets the record, never the value again (only its hash is stored)
      keepForRepeats: (result) => {
        const body = { ...(result.body as Record<string, unknown>) };
        delete body.token;
        return { ...result, body };
      },
      async handle({ body, caller }) {
        const { token, record } = await tokens.mint({ ttlSeconds: body.ttl_seconds, uses: body.uses });
        audit('registration_token.created', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', token_id: record.id, uses: record.maxUses, expires_at: iso(record.expiresAt) });
        return { status: 201, body: { token, ...view(record) }, location: `/registration-tokens/${record.id}` };
      },
    }),
    route({
      method: 'delete', path: '/registration-tokens/{id}', operationId: 'revokeRegistrationToken', summary: 'Revoke an initial access token', tag: 'registration', scope: 'admin:registration:write',
      params: z.object({ id: z.string().min(1).max(64) }), errors: [404],
      success: { status: 204, description: 'revoked' },
      async handle({ params, caller }) {
        if (!(await tokens.revoke(params.id))) throw notFound(`no registration token ${params.id}`);
        audit('registration_token.revoked', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', token_id: params.id });
        return { status: 204 };
      },
    }),
  ];
}
