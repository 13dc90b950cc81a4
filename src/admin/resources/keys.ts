import { z } from 'zod';

import type { Audit } from '../../audit.js';
import type { KeyService } from '../../keys/key-service.js';
import { route, type AdminRoute } from '../routes.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const SigningKey = z
  .object({
    kid: z.string(),
    alg: z.string(),
    status: z.enum(['active', 'retired']),
    created_at: z.string().nullable(),
    retired_at: z.string().nullable(),
    published_until: z.string().nullable().describe('a retired key verifies (is published) until then'),
  })
  .meta({ id: 'SigningKey' });

const Rotation = z
  .object({
    rotated: z.array(z.object({ kid: z.string(), alg: z.string() })),
    old_keys_published_for_seconds: z.number().int(),
    old_cookie_keys_kept_for_seconds: z.number().int().optional(),
    nodes_pick_up_within_seconds: z.number().int(),
  })
  .meta({ id: 'KeyRotation' });

/** /keys: list and rotate, the same key service as `idport keys`; this node switches at once, others within keys.refreshSeconds. */
export function keyRoutes({ keys, audit, reloadKeys, refreshSeconds }: { keys: KeyService; audit: Audit; reloadKeys: () => Promise<unknown>; refreshSeconds: number }): AdminRoute[] {
  return [
    route({
      method: 'get', path: '/keys', operationId: 'listKeys', summary: 'List signing keys (never their material)', tag: 'keys', scope: 'admin:keys:read',
      success: { status: 200, schema: z.object({ items: z.array(SigningKey) }), description: 'every signing key, active and retired' },
      async handle() {
        const items = (await keys.list()).map((k) => ({ kid: k.kid, alg: String(k.alg), status: k.status, created_at: iso(k.createdAt), retired_at: iso(k.retiredAt), published_until: iso(k.publishedUntil) }));
        return { status: 200, body: { items } };
      },
    }),
    route({
      method: 'post', path: '/keys/rotate', operationId: 'rotateKeys', summary: 'Rotate the signing keys (and cookie keys)', tag: 'keys', scope: 'admin:keys:write',
      body: z.object({ cookies: z.boolean().default(false).describe('rotate the cookie keys too') }).strict(),
      success: { status: 200, schema: Rotation, description: 'the new keys and how long old ones stay' },
      async handle({ body, caller }) {
        const { fresh, keepSeconds, cookieKeepSeconds } = await keys.rotate({ cookies: body.cookies });
        audit('keys.rotated', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', kids: fresh.map((k) => k.kid), cookies: !!cookieKeepSeconds });
        await reloadKeys();
        return {
          status: 200,
          body: {
            rotated: fresh,
            old_keys_published_for_seconds: keepSeconds,
            ...(cookieKeepSeconds ? { old_cookie_keys_kept_for_seconds: cookieKeepSeconds } : {}),
            nodes_pick_up_within_seconds: refreshSeconds,
          },
        };
      },
    }),
  ];
}
