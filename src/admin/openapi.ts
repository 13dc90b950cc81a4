import { z } from 'zod';

import { adminScopes } from './admin-api.js';
import type { AdminRoute } from './routes.js';

/** Named schemas (zod `.meta({ id })`), collected as the document is built: components.schemas. */
type Named = Record<string, unknown>;

/**
 * A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect). Named schemas become references to
 * components.schemas; a name used for both input and output takes `Input` for the input form.
 */
function toSchema(schema: z.ZodType, io: 'input' | 'output', named: Named) {
  const suffix = io === 'input' ? 'Input' : '';
  const raw = JSON.stringify(z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any', reused: 'inline' }));
  const out = JSON.parse(raw.replace(/"#\/\$defs\/([\w-]+)"/g, (_, id: string) => JSON.stringify(`#/components/schemas/${id}${suffix}`))) as Record<string, unknown>;
  delete out.$schema;
  const defs = (out.$defs ?? {}) as Named;
  delete out.$defs;
  for (const [id, def] of Object.entries(defs)) named[`${id}${suffix}`] = def;
  return out;
}

const problem = { $ref: '#/components/schemas/Problem' };
const statusText: Record<number, string> = {
  400: 'the request is malformed or breaks a rule (problem details say which)',
  401: 'no valid admin access token (see WWW-Authenticate)',
  403: 'the token lacks the scope this operation needs (insufficient_scope)',
  404: 'no such resource',
  409: 'conflicts with what exists (or the same Idempotency-Key is still being processed)',
  412: 'If-Match does not match the resource\'s ETag',
  415: 'the body must be application/json',
  422: 'this Idempotency-Key was used for a different request',
  429: 'too many requests (see Retry-After)',
  503: 'the store is unavailable (see Retry-After)',
};

function parameters(route: AdminRoute, named: Named) {
  const out: Record<string, unknown>[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    for (const [name, field] of Object.entries(schema?.shape ?? {})) {
      const f = field as z.ZodType;
      const description = f.description;
      out.push({ name, in: where, required: where === 'path' || !f.safeParse(undefined).success, schema: toSchema(f, 'input', named), ...(description ? { description } : {}) });
    }
  }
  if (route.idempotent) out.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 }, description: 'repeat a create safely: the same key (per client, 24 h) answers the first result' });
  if (route.etag && route.method !== 'get' && route.method !== 'post') out.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'the ETag you read: refused with 412 if the resource changed since' });
  return out;
}

function operation(route: AdminRoute, named: Named) {
  const responses: Record<string, unknown> = {
    [String(route.success.status)]: {
      description: route.success.description,
      ...(route.etag && route.success.schema ? { headers: { ETag: { schema: { type: 'string' } } } } : {}),
      ...(route.success.schema ? { content: { 'application/json': { schema: toSchema(route.success.schema, 'output', named) } } } : {}),
    },
  };
  for (const status of [400, 401, 403, ...(route.errors ?? []), ...(route.body ? [415] : []), 429, 503]) {
    responses[String(status)] = { description: statusText[status] ?? 'error', content: { 'application/problem+json': { schema: problem } } };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    security: [{ oauth2: [route.scope] }],
    parameters: parameters(route, named),
    ...(route.body ? { requestBody: { required: !route.body.safeParse({}).success, content: { 'application/json': { schema: toSchema(route.body, 'input', named) } } } } : {}),
    responses,
  };
}

/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table: the same zod schemas
 * that validate each request (z.toJSONSchema, JSON Schema 2020-12 as OpenAPI 3.1 uses).
 */
export function openApiDocument(routes: AdminRoute[], issuer: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  const named: Named = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method] = operation(route, named);
  return {
    openapi: '3.1.0',
    info: { title: 'idport admin API', version: '1', description: 'Administer idport over HTTP with idport access tokens (client_credentials, audience {issuer}/admin; DPoP-bound tokens are sent as "DPoP <token>" with a DPoP proof).' },
    servers: [{ url: `${issuer.replace(/\/$/, '')}/admin/v1` }],
    paths,
    components: {
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          flows: { clientCredentials: { tokenUrl: `${issuer.replace(/\/$/, '')}/token`, scopes: Object.fromEntries(adminScopes.map((s) => [s, s.replace(/^admin:/, '').replace(':', ' ')])) } },
        },
      },
      schemas: {
        ...named,
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            instance: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } }, required: ['path', 'message'] } },
          },
          required: ['type', 'title', 'status'],
        },
      },
    },
  };
}
