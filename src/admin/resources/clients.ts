import { z } from 'zod';

import type { Audit } from '../../audit.js';
import { ClientInputError, clientSummary, type ClientService } from '../../clients/client-service.js';
import { supportedGrantTypes } from '../../clients/client-policy.js';
import type { ClientMetadata } from '../../storage/types.js';
import type { AdminCaller } from '../access-token.js';
import { adminScopes } from '../admin-api.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { listQuery, pageOf, paginate } from '../pagination.js';
import { badRequest, notFound, Problem } from '../problem.js';
import { route, type AdminRoute } from '../routes.js';

const uris = z.array(z.string().min(1).max(2048)).max(50);

/** Client metadata as RFC 7591 names it, with idport's own properties (src/clients/client-policy.ts). */
const metadataFields = {
  client_name: z.string().min(1).max(256),
  redirect_uris: uris.optional(),
  post_logout_redirect_uris: uris.optional(),
  grant_types: z.array(z.enum(supportedGrantTypes as [string, ...string[]])).min(1).optional().describe('default: authorization_code, refresh_token'),
  scope: z.string().max(1024).optional().describe('OpenID scopes, space-separated'),
  api_scopes: z.array(z.string().min(1).max(128)).max(200).optional().describe('API scopes it may be granted (admin scopes only those the caller holds)'),
  default_audience: z.string().max(2048).optional(),
  introspect_for: z.array(z.string().max(2048)).max(50).optional(),
  web_origins: z.array(z.string().max(2048)).max(50).optional(),
  first_party: z.boolean().optional(),
  require_mfa: z.boolean().optional(),
  require_pkce: z.boolean().optional(),
  require_pushed_authorization_requests: z.boolean().optional(),
  dpop_bound_access_tokens: z.boolean().optional(),
  backchannel_logout_uri: z.string().min(1).max(2048).optional().describe('where logout tokens are posted (OpenID Back-Channel Logout)'),
  backchannel_logout_session_required: z.boolean().optional(),
  allow_impersonation: z.boolean().optional().describe('token exchanges (RFC 8693) give tokens with no act claim'),
};

const NewClient = z
  .object({ ...metadataFields, token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).default('client_secret_basic') })
  .strict()
  .meta({ id: 'NewClient' });
const ClientChanges = z
  .object(Object.fromEntries(Object.entries(metadataFields).map(([k, v]) => [k, v.optional()])) as { [K in keyof typeof metadataFields]: z.ZodOptional<(typeof metadataFields)[K]> })
  .strict()
  .meta({ id: 'ClientChanges' });

export const Client = z
  .object({
    client_id: z.string(),
    client_name: z.string().optional(),
    public: z.boolean(),
    has_secret: z.boolean(),
    origin: z.enum(['cli', 'registration']).describe('made by an operator (CLI or this API), or registered by the client itself (RFC 7591)'),
    grant_types: z.array(z.string()).optional(),
    redirect_uris: z.array(z.string()).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Client' });
const ClientWithSecret = Client.extend({
  client_secret: z.string().optional().describe('shown in this answer only'),
  client_secret_note: z.string().optional().describe('in a repeat (same Idempotency-Key) instead of the secret'),
}).meta({ id: 'ClientWithSecret' });

const byId = z.object({ id: z.string().min(1).max(1024).describe('the client_id') });
const view = (c: ClientMetadata) => clientSummary(c);

/** Admin scopes the new metadata would give that the caller does not hold itself. */
function adminScopesBeyond(caller: AdminCaller, metadata: Record<string, unknown>): string[] {
  const asked = Array.isArray(metadata.api_scopes) ? (metadata.api_scopes as string[]) : [];
  return asked.filter((s) => (adminScopes as readonly string[]).includes(s) && !caller.scopes.has(s));
}

async function clientCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ClientInputError) throw badRequest(err.message);
    throw err;
  }
}

/** /clients: the one client policy, secrets shown once, never listed. */
export function clientRoutes({ clients, audit }: { clients: ClientService; audit: Audit }): AdminRoute[] {
  const find = async (id: string) => {
    const client = await clients.find(id);
    if (!client) throw notFound(`no client ${id}`);
    return client;
  };
  const noEscalation = (caller: AdminCaller, metadata: Record<string, unknown>) => {
    const beyond = adminScopesBeyond(caller, metadata);
    if (beyond.length) throw new Problem(403, 'Forbidden', `a client may be given only admin scopes its maker holds; not ${beyond.join(' ')}`);
  };
  return [
    route({
      method: 'get', path: '/clients', operationId: 'listClients', summary: 'List clients (never their secrets)', tag: 'clients', scope: 'admin:clients:read',
      query: z.object(listQuery),
      success: { status: 200, schema: pageOf(Client), description: 'one page of clients' },
      async handle({ query }) {
        const page = paginate(await clients.list(), (c) => c.client_id, query);
        return { status: 200, body: { items: page.items.map(view), next_cursor: page.next } };
      },
    }),
    route({
      method: 'post', path: '/clients', operationId: 'createClient', summary: 'Register a client; its secret is in this answer only', tag: 'clients', scope: 'admin:clients:write', idempotent: true, etag: true,
      body: NewClient, errors: [409, 422],
      success: { status: 201, schema: ClientWithSecret, description: 'the new client, with its secret (shown once)' },
      // a repeat with the same Idempotency-Key gets the client, not the secret: it is never stored in the clear
      keepForRepeats: (result) => {
        const { client_secret: secret, ...rest } = result.body as Record<string, unknown>;
        return { ...result, body: secret === undefined ? rest : { ...rest, client_secret_note: 'shown only in the first answer; rotate it (POST /clients/{id}/secret) if it was lost' } };
      },
      async handle({ body, caller }) {
        noEscalation(caller, body);
        const stored = await clientCall(() => clients.register(body as Omit<ClientMetadata, 'client_id'>));
        audit('client.added', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', client_id: stored.client_id, client_name: stored.client_name });
        const v = view(stored);
        return { status: 201, body: { ...v, ...(stored.client_secret ? { client_secret: stored.client_secret } : {}) }, etag: etagOf(v), location: `/clients/${encodeURIComponent(stored.client_id)}` };
      },
    }),
    route({
      method: 'get', path: '/clients/{id}', operationId: 'getClient', summary: 'Get a client (never its secret)', tag: 'clients', scope: 'admin:clients:read', etag: true,
      params: byId, errors: [404],
      success: { status: 200, schema: Client, description: 'the client' },
      async handle({ params }) {
        const v = view(await find(params.id));
        return { status: 200, body: v, etag: etagOf(v) };
      },
    }),
    route({
      method: 'patch', path: '/clients/{id}', operationId: 'updateClient', summary: 'Change a client\'s metadata (null-free JSON merge of the fields given)', tag: 'clients', scope: 'admin:clients:write', etag: true,
      params: byId, body: ClientChanges, errors: [404, 412],
      success: { status: 200, schema: Client, description: 'the client as it is now' },
      async handle({ params, body, ifMatch, caller }) {
        checkIfMatch(ifMatch, view(await find(params.id)));
        noEscalation(caller, body);
        const updated = await clientCall(() => clients.update(params.id, (current) => ({ ...current, ...body })));
        if (!updated) throw notFound(`no client ${params.id}`);
        audit('client.updated', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', client_id: updated.client_id, fields: Object.keys(body) });
        const v = view(updated);
        return { status: 200, body: v, etag: etagOf(v) };
      },
    }),
    route({
      method: 'post', path: '/clients/{id}/secret', operationId: 'rotateClientSecret', summary: 'A new secret for a confidential client; the old one stops working at once', tag: 'clients', scope: 'admin:clients:write',
      params: byId, errors: [404],
      success: { status: 200, schema: z.object({ client_id: z.string(), client_secret: z.string() }).meta({ id: 'ClientSecret' }), description: 'the new secret (shown once)' },
      async handle({ params, caller }) {
        const updated = await clientCall(() => clients.rotateSecret(params.id));
        if (!updated) throw notFound(`no client ${params.id}`);
        audit('client.secret_rotated', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', client_id: updated.client_id });
        return { status: 200, body: { client_id: updated.client_id, client_secret: updated.client_secret } };
      },
    }),
    route({
      method: 'delete', path: '/clients/{id}', operationId: 'deleteClient', summary: 'Remove a client', tag: 'clients', scope: 'admin:clients:write', etag: true,
      params: byId, errors: [404, 412],
      success: { status: 204, description: 'removed' },
      async handle({ params, ifMatch, caller }) {
        checkIfMatch(ifMatch, view(await find(params.id)));
        if (!(await clients.remove(params.id))) throw notFound(`no client ${params.id}`);
        audit('client.removed', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', client_id: params.id });
        return { status: 204 };
      },
    }),
  ];
}
