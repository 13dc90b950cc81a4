import { z } from 'zod';

import { ApiInputError, apiView, type ApiRegistry } from '../../apis/api-registry.js';
import type { Audit } from '../../audit.js';
import type { ApiRecord } from '../../storage/types.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { listQuery, pageOf, paginate } from '../pagination.js';
import { badRequest, notFound } from '../problem.js';
import { route, type AdminRoute } from '../routes.js';

export const Api = z
  .object({
    audience: z.string(),
    name: z.string().nullable(),
    scopes: z.array(z.string()),
    token_format: z.enum(['jwt', 'opaque']),
    access_token_ttl: z.number().int().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Api' });

const view = (api: ApiRecord): z.output<typeof Api> => apiView(api);

const NewApi = z
  .object({
    audience: z.string().min(1).max(2048).describe('RFC 8707 resource URI, e.g. https://api.example.com'),
    name: z.string().min(1).max(256).optional(),
    scopes: z.array(z.string().min(1).max(128)).max(200).default([]),
    token_format: z.enum(['jwt', 'opaque']).default('jwt'),
    access_token_ttl: z.number().int().min(1).max(86400).nullable().optional(),
  })
  .strict()
  .meta({ id: 'NewApi' });
const byAudience = z.object({ audience: z.string().min(1).max(2048).describe('the API\'s audience, URL-encoded') });

/** /apis: the same API registry (audience and scope rules) as `idport apis`. */
export function apiRoutes({ apis, audit, builtIn }: { apis: ApiRegistry; audit: Audit; builtIn: (audience: string) => boolean }): AdminRoute[] {
  const find = async (audience: string) => {
    const api = await apis.find(audience);
    if (!api) throw notFound(`no API ${audience}`);
    return api;
  };
  return [
    route({
      method: 'get', path: '/apis', operationId: 'listApis', summary: 'List APIs (resource servers)', tag: 'apis', scope: 'admin:apis:read',
      query: z.object(listQuery),
      success: { status: 200, schema: pageOf(Api), description: 'one page of APIs' },
      async handle({ query }) {
        const page = paginate(await apis.list(), (a) => a.audience, query);
        return { status: 200, body: { items: page.items.map(view), next_cursor: page.next } };
      },
    }),
    route({
      method: 'post', path: '/apis', operationId: 'createApi', summary: 'Register an API', tag: 'apis', scope: 'admin:apis:write', idempotent: true, etag: true,
      body: NewApi, errors: [422],
      success: { status: 201, schema: Api, description: 'the new API' },
      async handle({ body, caller }) {
        if (builtIn(body.audience)) throw badRequest(`${body.audience} is idport's own admin API`);
        let stored: ApiRecord;
        try {
          stored = await apis.register({ audience: body.audience, name: body.name ?? null, scopes: body.scopes, tokenFormat: body.token_format, accessTokenTtl: body.access_token_ttl ?? null });
        } catch (err) {
          if (err instanceof ApiInputError) throw badRequest(err.message);
          throw err;
        }
        audit('api.added', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', audience: stored.audience, scopes: stored.scopes });
        return { status: 201, body: view(stored), etag: etagOf(view(stored)), location: `/apis/${encodeURIComponent(stored.audience)}` };
      },
    }),
    route({
      method: 'get', path: '/apis/{audience}', operationId: 'getApi', summary: 'Get an API', tag: 'apis', scope: 'admin:apis:read', etag: true,
      params: byAudience, errors: [404],
      success: { status: 200, schema: Api, description: 'the API' },
      async handle({ params }) {
        const v = view(await find(params.audience));
        return { status: 200, body: v, etag: etagOf(v) };
      },
    }),
    route({
      method: 'delete', path: '/apis/{audience}', operationId: 'deleteApi', summary: 'Remove an API', tag: 'apis', scope: 'admin:apis:write', etag: true,
      params: byAudience, errors: [404, 412],
      success: { status: 204, description: 'removed' },
      async handle({ params, ifMatch, caller }) {
        if (builtIn(params.audience)) throw badRequest(`${params.audience} is idport's own admin API and cannot be removed`);
        checkIfMatch(ifMatch, view(await find(params.audience)));
        if (!(await apis.remove(params.audience))) throw notFound(`no API ${params.audience}`);
        audit('api.removed', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', audience: params.audience });
        return { status: 204 };
      },
    }),
  ];
}
