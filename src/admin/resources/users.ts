import { z } from 'zod';

import { accountPageKey, AccountInputError, type AccountService } from '../../accounts/account-service.js';
import type { Audit } from '../../audit.js';
import { DuplicateError, type AccountRecord } from '../../storage/types.js';
import { checkIfMatch, etagOf } from '../etag.js';
import { decodePairCursor, encodePairCursor, listQuery, pageOf } from '../pagination.js';
import { badRequest, conflict, notFound } from '../problem.js';
import { route, type AdminRoute } from '../routes.js';

const iso = (ms: number) => new Date(ms).toISOString();

export const User = z
  .object({
    sub: z.string().describe('stable subject identifier'),
    username: z.string(),
    email: z.string().nullable(),
    email_verified: z.boolean(),
    name: z.string().nullable(),
    claims: z.record(z.string(), z.unknown()).describe('further standard claims (given_name, address, …)'),
    has_password: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'User' });

const view = (a: AccountRecord): z.output<typeof User> => ({
  sub: a.id,
  username: a.username,
  email: a.email,
  email_verified: a.emailVerified,
  name: a.name,
  claims: a.claims,
  has_password: a.passwordHash !== '',
  created_at: iso(a.createdAt),
  updated_at: iso(a.updatedAt),
});

const claims = z.record(z.string(), z.unknown());
const NewUser = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(1024).optional().describe('omit for an account that signs in through an upstream or sets a password by reset'),
    email: z.string().max(320).optional(),
    email_verified: z.boolean().optional(),
    name: z.string().min(1).max(256).optional(),
    claims: claims.optional(),
  })
  .strict()
  .meta({ id: 'NewUser' });
const UserChanges = z
  .object({ name: z.string().min(1).max(256).nullable().optional(), claims: claims.optional(), email: z.string().max(320).nullable().optional(), email_verified: z.boolean().optional() })
  .strict()
  .meta({ id: 'UserChanges' });
export const Ended = z
  .object({ sessions_ended: z.number().int(), grants_revoked: z.number().int() })
  .describe('what the change ended; each app of an ended session that has a backchannel_logout_uri gets a logout token (sent in the background, audited as backchannel_logout)')
  .meta({ id: 'EndedSignIns' });
export const userId = z.string().min(1).max(1024).describe('the user\'s sub');
const byId = z.object({ id: userId });

/** The user, or a 404 problem. */
export async function findUser(accounts: Pick<AccountService, 'find'>, id: string): Promise<AccountRecord> {
  const account = await accounts.find(id);
  if (!account) throw notFound(`no user ${id}`);
  return account;
}

/**
 * One page of users, read as one page from the store: limit + 1 rows after the cursor's
 * (normalised username, id) key, the extra one only telling whether a next page exists.
 */
export async function listUsers(accounts: Pick<AccountService, 'page'>, { limit, cursor, q }: { limit: number; cursor?: string | undefined; q?: string | undefined }) {
  const after = cursor === undefined ? undefined : decodePairCursor(cursor);
  const rows = await accounts.page({ after: after && { usernameNorm: after[0], id: after[1] }, limit: limit + 1, contains: q });
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const key = last && accountPageKey(last);
  return { items: items.map(view), next_cursor: rows.length > limit && key ? encodePairCursor([key.usernameNorm, key.id]) : null };
}

/** The account service's refusals as problems: bad input 400, a taken username or email 409. */
async function accountCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AccountInputError) throw badRequest(err.message);
    if (err instanceof DuplicateError) throw conflict(`${err.field} is already taken`);
    throw err;
  }
}

/** /users: the same account service (input rules, password policy, ended sessions) as `idport users`. */
export function userRoutes({ accounts, audit }: { accounts: AccountService; audit: Audit }): AdminRoute[] {
  const find = (id: string) => findUser(accounts, id);
  return [
    route({
      method: 'get', path: '/users', operationId: 'listUsers', summary: 'List users, by username', tag: 'users', scope: 'admin:users:read',
      query: z.object({ ...listQuery, q: z.string().min(1).max(256).optional().describe('only users whose username, email or name contains this (any case)') }),
      success: { status: 200, schema: pageOf(User), description: 'one page of users' },
      async handle({ query }) {
        return { status: 200, body: await listUsers(accounts, query) };
      },
    }),
    route({
      method: 'post', path: '/users', operationId: 'createUser', summary: 'Create a user', tag: 'users', scope: 'admin:users:write', idempotent: true, etag: true,
      body: NewUser, errors: [409, 422],
      success: { status: 201, schema: User, description: 'the new user' },
      async handle({ body, caller }) {
        const input = { username: body.username, email: body.email, name: body.name, emailVerified: body.email_verified, claims: body.claims };
        const account = await accountCall(() => (body.password === undefined ? accounts.createWithoutPassword(input) : accounts.create({ ...input, password: body.password })));
        audit('user.added', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', sub: account.id, username: account.username });
        return { status: 201, body: view(account), etag: etagOf(view(account)), location: `/users/${encodeURIComponent(account.id)}` };
      },
    }),
    route({
      method: 'get', path: '/users/{id}', operationId: 'getUser', summary: 'Get a user', tag: 'users', scope: 'admin:users:read', etag: true,
      params: byId, errors: [404],
      success: { status: 200, schema: User, description: 'the user' },
      async handle({ params }) {
        const v = view(await find(params.id));
        return { status: 200, body: v, etag: etagOf(v) };
      },
    }),
    route({
      method: 'patch', path: '/users/{id}', operationId: 'updateUser', summary: 'Change a user\'s name, claims or email', tag: 'users', scope: 'admin:users:write', etag: true,
      params: byId, body: UserChanges, errors: [404, 409, 412],
      success: { status: 200, schema: User, description: 'the user as it is now' },
      async handle({ params, body, ifMatch, caller }) {
        checkIfMatch(ifMatch, view(await find(params.id)));
        const updated = await accountCall(() => accounts.update(params.id, { name: body.name, claims: body.claims, email: body.email, emailVerified: body.email_verified }));
        if (!updated) throw notFound(`no user ${params.id}`);
        audit('user.updated', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', sub: updated.id, fields: Object.keys(body) });
        const v = view(updated);
        return { status: 200, body: v, etag: etagOf(v) };
      },
    }),
    route({
      method: 'put', path: '/users/{id}/password', operationId: 'setUserPassword', summary: 'Set a user\'s password; ends their sessions and app sign-ins', tag: 'users', scope: 'admin:users:write',
      params: byId, body: z.object({ password: z.string().min(1).max(1024) }).strict(), errors: [404],
      success: { status: 200, schema: Ended, description: 'what the change ended' },
      async handle({ params, body, caller }) {
        const ended = await accountCall(() => accounts.setPassword(params.id, body.password));
        if (!ended) throw notFound(`no user ${params.id}`);
        audit('user.password_set', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', sub: params.id, sessions_ended: ended.sessions, grants_revoked: ended.grants });
        return { status: 200, body: { sessions_ended: ended.sessions, grants_revoked: ended.grants } };
      },
    }),
    route({
      method: 'delete', path: '/users/{id}', operationId: 'deleteUser', summary: 'Remove a user, their sessions, grants, factors and links', tag: 'users', scope: 'admin:users:write', etag: true,
      params: byId, errors: [404, 412],
      success: { status: 204, description: 'removed' },
      async handle({ params, ifMatch, caller }) {
        checkIfMatch(ifMatch, view(await find(params.id)));
        const ended = await accounts.remove(params.id);
        if (!ended) throw notFound(`no user ${params.id}`);
        audit('user.removed', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', sub: params.id, sessions_ended: ended.sessions, grants_revoked: ended.grants });
        return { status: 204 };
      },
    }),
  ];
}
