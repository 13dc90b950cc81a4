import { z } from 'zod';

import type { AccountSession, AccountSessions } from '../../accounts/account-sessions.js';
import type { AccountService } from '../../accounts/account-service.js';
import type { Audit } from '../../audit.js';
import { notFound } from '../problem.js';
import { route, type AdminRoute } from '../routes.js';
import { Ended, findUser, userId } from './users.js';

const iso = (ms: number | null | undefined) => (typeof ms === 'number' ? new Date(ms).toISOString() : null);

const Session = z
  .object({
    id: z.string().describe('names the session here (not the session cookie\'s value)'),
    signed_in_at: z.string().nullable(),
    last_seen_at: z.string().nullable(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    clients: z.array(z.string()).describe('the client ids the session signed in to'),
    amr: z.array(z.string()).nullable().describe('how the sign-in was made (RFC 8176), when recorded'),
    acr: z.string().nullable(),
  })
  .meta({ id: 'UserSession' });

const view = (s: AccountSession): z.output<typeof Session> => ({
  id: s.handle,
  signed_in_at: iso(s.signedInAt),
  last_seen_at: iso(s.info?.lastSeen),
  ip: s.info?.ip || null,
  user_agent: s.info?.userAgent || null,
  clients: s.clients,
  amr: s.amr,
  acr: s.acr,
});

const byUser = z.object({ id: userId });

export interface UserSessionRouteDeps {
  accounts: AccountService;
  sessions: AccountSessions;
  audit: Audit;
}

/**
 * /users/{id}/sessions: the user's browser sessions as their own /account/sessions lists them, and
 * ending one or all; an ended session's grants are revoked and its apps get logout tokens.
 */
export function userSessionRoutes({ accounts, sessions, audit }: UserSessionRouteDeps): AdminRoute[] {
  const ended = (sub: string, callerId: string, counts: { sessions: number; grants: number }, extra: Record<string, unknown> = {}) => {
    audit('session.ended', { outcome: 'success', actor: `client:${callerId}`, via: 'admin-api', sub, ...extra, sessions_ended: counts.sessions, grants_revoked: counts.grants });
    return { status: 200, body: { sessions_ended: counts.sessions, grants_revoked: counts.grants } };
  };
  return [
    route({
      method: 'get', path: '/users/{id}/sessions', operationId: 'listUserSessions', summary: 'List a user\'s browser sessions, the most recently used first', tag: 'users', scope: 'admin:users:read',
      params: byUser, errors: [404],
      success: { status: 200, schema: z.object({ items: z.array(Session) }), description: 'the user\'s sessions' },
      async handle({ params }) {
        const account = await findUser(accounts, params.id);
        return { status: 200, body: { items: (await sessions.list(account.id)).map(view) } };
      },
    }),
    route({
      method: 'delete', path: '/users/{id}/sessions/{sessionId}', operationId: 'endUserSession', summary: 'End one session of a user; revokes its app sign-ins', tag: 'users', scope: 'admin:users:write',
      params: z.object({ id: userId, sessionId: z.string().min(1).max(64).describe('a session id from the list') }), errors: [404],
      success: { status: 200, schema: Ended, description: 'what ending it ended' },
      async handle({ params, caller }) {
        const account = await findUser(accounts, params.id);
        const done = await sessions.end(account.id, params.sessionId);
        if (!done) throw notFound(`user ${account.id} has no session ${params.sessionId}`);
        return ended(account.id, caller.clientId, { sessions: 1, grants: done.grants }, { session: params.sessionId });
      },
    }),
    route({
      method: 'delete', path: '/users/{id}/sessions', operationId: 'endUserSessions', summary: 'End every session of a user; revokes all their app sign-ins', tag: 'users', scope: 'admin:users:write',
      params: byUser, errors: [404],
      success: { status: 200, schema: Ended, description: 'what ending them ended' },
      async handle({ params, caller }) {
        const account = await findUser(accounts, params.id);
        return ended(account.id, caller.clientId, await sessions.endAll(account.id), { all: true });
      },
    }),
  ];
}
