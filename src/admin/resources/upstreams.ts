import { z } from 'zod';

import type { Audit } from '../../audit.js';
import type { UpstreamPreset, UpstreamRecord } from '../../storage/types.js';
import { presetNames } from '../../upstreams/presets.js';
import { UpstreamInputError, upstreamSummary, type UpstreamChanges, type UpstreamRegistry } from '../../upstreams/upstream-registry.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { badRequest, notFound } from '../problem.js';
import { route, type AdminRoute } from '../routes.js';

const iso = (ms: number) => new Date(ms).toISOString();

export const Upstream = z
  .object({
    id: z.string(),
    name: z.string(),
    preset: z.string(),
    issuer: z.string(),
    client_id: z.string(),
    scope: z.string(),
    button_label: z.string().nullable(),
    link_by_verified_email: z.boolean(),
    jit: z.boolean(),
    claim_map: z.record(z.string(), z.string()),
    settings: z.record(z.string(), z.string()),
    secret_sealed: z.boolean().describe('its secrets are sealed under IDPORT_KEK'),
    redirect_path: z.string().describe('register {issuer}{redirect_path} at the upstream'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Upstream' });

const view = (u: UpstreamRecord): z.output<typeof Upstream> => {
  const s = upstreamSummary(u);
  return {
    id: s.id, name: s.name, preset: s.preset, issuer: s.issuer, client_id: s.clientId, scope: s.scope, button_label: s.buttonLabel,
    link_by_verified_email: s.linkByVerifiedEmail, jit: s.jit, claim_map: s.claimMap, settings: s.settings,
    secret_sealed: s.secret_sealed, redirect_path: s.redirect_path, created_at: iso(s.createdAt), updated_at: iso(s.updatedAt),
  };
};

const fields = {
  name: z.string().min(1).max(80),
  issuer: z.string().max(2048).optional(),
  client_id: z.string().min(1).max(255),
  client_secret: z.string().min(1).max(4096).optional().describe('write-only; never read back'),
  private_key: z.string().min(1).max(8192).optional().describe('apple: the Sign in with Apple key (PKCS#8 PEM); write-only'),
  scope: z.string().max(1024).optional(),
  button_label: z.string().max(60).nullable().optional(),
  link_by_verified_email: z.boolean().optional(),
  jit: z.boolean().optional(),
  claim_map: z.record(z.string(), z.string()).optional(),
  settings: z.record(z.string(), z.string()).optional(),
};
const NewUpstream = z
  .object({ ...fields, id: z.string().max(40).optional(), preset: z.enum(presetNames as [UpstreamPreset, ...UpstreamPreset[]]).default('oidc') })
  .strict()
  .meta({ id: 'NewUpstream' });
const UpstreamChangesBody = z.object({ ...fields, name: fields.name.optional(), client_id: fields.client_id.optional() }).strict().meta({ id: 'UpstreamChanges' });
const byId = z.object({ id: z.string().min(1).max(40) });

async function upstreamCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UpstreamInputError) throw badRequest(err.message);
    throw err;
  }
}

const changesOf = (b: z.output<typeof UpstreamChangesBody>): UpstreamChanges => ({
  name: b.name, issuer: b.issuer, clientId: b.client_id, clientSecret: b.client_secret, privateKey: b.private_key, scope: b.scope,
  buttonLabel: b.button_label, linkByVerifiedEmail: b.link_by_verified_email, jit: b.jit, claimMap: b.claim_map, settings: b.settings,
});

/** /upstreams: providers users may sign in with, the same registry (presets, sealed secrets) as `idport upstreams`. */
export function upstreamRoutes({ upstreams, audit }: { upstreams: UpstreamRegistry; audit: Audit }): AdminRoute[] {
  const find = async (id: string) => {
    const upstream = await upstreams.find(id);
    if (!upstream) throw notFound(`no upstream ${id}`);
    return upstream;
  };
  return [
    route({
      method: 'get', path: '/upstreams', operationId: 'listUpstreams', summary: 'List upstream providers (never their secrets)', tag: 'upstreams', scope: 'admin:upstreams:read',
      success: { status: 200, schema: z.object({ items: z.array(Upstream) }), description: 'every upstream, by id' },
      async handle() {
        return { status: 200, body: { items: (await upstreams.list()).map(view) } };
      },
    }),
    route({
      method: 'post', path: '/upstreams', operationId: 'createUpstream', summary: 'Add an upstream provider', tag: 'upstreams', scope: 'admin:upstreams:write', idempotent: true, etag: true,
      body: NewUpstream, errors: [409, 422],
      success: { status: 201, schema: Upstream, description: 'the new upstream' },
      async handle({ body, caller }) {
        const added = await upstreamCall(() => upstreams.add({ ...changesOf(body), id: body.id, preset: body.preset, name: body.name, clientId: body.client_id }));
        audit('upstream.added', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', upstream: added.id, preset: added.preset });
        const v = view(added);
        return { status: 201, body: v, etag: etagOf(v), location: `/upstreams/${added.id}` };
      },
    }),
    route({
      method: 'get', path: '/upstreams/{id}', operationId: 'getUpstream', summary: 'Get an upstream provider', tag: 'upstreams', scope: 'admin:upstreams:read', etag: true,
      params: byId, errors: [404],
      success: { status: 200, schema: Upstream, description: 'the upstream' },
      async handle({ params }) {
        const v = view(await find(params.id));
        return { status: 200, body: v, etag: etagOf(v) };
      },
    }),
    route({
      method: 'patch', path: '/upstreams/{id}', operationId: 'updateUpstream', summary: 'Change an upstream (secrets stay unless given)', tag: 'upstreams', scope: 'admin:upstreams:write', etag: true,
      params: byId, body: UpstreamChangesBody, errors: [404, 412],
      success: { status: 200, schema: Upstream, description: 'the upstream as it is now' },
      async handle({ params, body, ifMatch, caller }) {
        checkIfMatch(ifMatch, view(await find(params.id)));
        const updated = await upstreamCall(() => upstreams.update(params.id, changesOf(body)));
        if (!updated) throw notFound(`no upstream ${params.id}`);
        audit('upstream.updated', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', upstream: updated.id, fields: Object.keys(body) });
        const v = view(updated);
        return { status: 200, body: v, etag: etagOf(v) };
      },
    }),
    route({
      method: 'delete', path: '/upstreams/{id}', operationId: 'deleteUpstream', summary: 'Remove an upstream and every account\'s link to it', tag: 'upstreams', scope: 'admin:upstreams:write', etag: true,
      params: byId, errors: [404, 412],
      success: { status: 204, description: 'removed' },
      async handle({ params, ifMatch, caller }) {
        checkIfMatch(ifMatch, view(await find(params.id)));
        if (!(await upstreams.remove(params.id))) throw notFound(`no upstream ${params.id}`);
        audit('upstream.removed', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', upstream: params.id });
        return { status: 204 };
      },
    }),
  ];
}
