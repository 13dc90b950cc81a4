import { z } from 'zod';

import type { AccountService } from '../../accounts/account-service.js';
import { hasWayInBesidesPasskeys } from '../../accounts/ways-in.js';
import type { Audit } from '../../audit.js';
import { FactorError, totpFactorId, type FactorService } from '../../factors/factor-service.js';
import { factorsView } from '../../factors/factors-view.js';
import { conflict, notFound } from '../problem.js';
import { route, type AdminRoute } from '../routes.js';
import { Ended, findUser, userId } from './users.js';

const Factors = z
  .object({
    passkeys: z.array(
      z.object({
        id: z.string().describe('the factorId that removes it (not the WebAuthn credential id)'),
        name: z.string(),
        device_type: z.enum(['singleDevice', 'multiDevice']),
        created_at: z.string().nullable(),
        last_used_at: z.string().nullable(),
      }),
    ),
    authenticator_app: z.boolean().describe(`a TOTP authenticator app is set up (factorId "${totpFactorId}")`),
    authenticator_app_added_at: z.string().nullable(),
    recovery_codes_left: z.number().int(),
  })
  .meta({ id: 'UserFactors' });

const factorParams = z.object({
  id: userId,
  factorId: z.string().min(1).max(64).describe(`a passkey's id from the factor list, or "${totpFactorId}" for the authenticator app`),
});

export interface UserFactorRouteDeps {
  accounts: AccountService;
  factors: FactorService;
  /** how many upstream providers the account signs in with (each is another way in) */
  linkCount: (accountId: string) => Promise<number>;
  audit: Audit;
}

/**
 * /users/{id}/factors: what `idport users show` lists, removing one factor as the user's own
 * account page does (not their last way in), and `users reset-mfa`.
 */
export function userFactorRoutes({ accounts, factors, linkCount, audit }: UserFactorRouteDeps): AdminRoute[] {
  return [
    route({
      method: 'get', path: '/users/{id}/factors', operationId: 'getUserFactors', summary: 'List a user\'s passkeys, authenticator app and recovery codes (names and dates, no secrets)', tag: 'users', scope: 'admin:users:read',
      params: z.object({ id: userId }), errors: [404],
      success: { status: 200, schema: Factors, description: 'the user\'s factors' },
      async handle({ params }) {
        const account = await findUser(accounts, params.id);
        return { status: 200, body: factorsView(await factors.summary(account.id)) };
      },
    }),
    route({
      method: 'delete', path: '/users/{id}/factors/{factorId}', operationId: 'removeUserFactor', summary: 'Remove one passkey or the authenticator app of a user (not their last way to sign in)', tag: 'users', scope: 'admin:users:write',
      params: factorParams, errors: [404, 409],
      success: { status: 204, description: 'removed' },
      async handle({ params, caller }) {
        const account = await findUser(accounts, params.id);
        const who = { actor: `client:${caller.clientId}`, via: 'admin-api', sub: account.id };
        let removed: 'passkey' | 'totp' | undefined;
        try {
          const otherWay = await hasWayInBesidesPasskeys(account, linkCount);
          removed = await factors.removeFactor(account.id, params.factorId, { hasPassword: otherWay });
        } catch (err) {
          if (!(err instanceof FactorError)) throw err;
          audit('factor.removed', { outcome: 'denied', ...who, factor: 'passkey', reason: 'last-way' });
          throw conflict('this passkey is the user\'s last way to sign in (no password, no other passkey, no upstream link)');
        }
        if (!removed) throw notFound(`user ${account.id} has no factor ${params.factorId}`);
        audit('factor.removed', { outcome: 'success', ...who, factor: removed, ...(removed === 'passkey' ? { passkey_id: params.factorId } : {}) });
        return { status: 204 };
      },
    }),
    route({
      method: 'post', path: '/users/{id}/reset-mfa', operationId: 'resetUserMfa', summary: 'Remove every passkey, authenticator app and recovery code of a user; ends their sessions and app sign-ins', tag: 'users', scope: 'admin:users:write',
      params: z.object({ id: userId }), errors: [404],
      success: { status: 200, schema: Ended, description: 'what the reset ended' },
      async handle({ params, caller }) {
        const ended = await accounts.resetFactors(params.id);
        if (!ended) throw notFound(`no user ${params.id}`);
        audit('user.mfa_reset', { outcome: 'success', actor: `client:${caller.clientId}`, via: 'admin-api', sub: params.id, sessions_ended: ended.sessions, grants_revoked: ended.grants });
        return { status: 200, body: { sessions_ended: ended.sessions, grants_revoked: ended.grants } };
      },
    }),
  ];
}
