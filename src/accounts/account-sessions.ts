import { createHash } from 'node:crypto';

import { clientsOfSession } from '../logout/session-clients.js';
import { sessionInfoOf, type SessionInfo } from '../provider/session-info.js';
import type { Store } from '../storage/types.js';
import type { SessionsEnded } from './sign-ins.js';

/** One browser session of an account, as /account lists it. */
export interface AccountSession {
  /**
   * What the page names the session by: a hash of its id. The id itself is the session cookie's
   * value, a credential that never goes into a page.
   */
  handle: string;
  /** epoch ms of the sign-in */
  signedInAt: number | null;
  info: SessionInfo | undefined;
  current: boolean;
  /** the clients (apps) the session signed in to */
  clients: string[];
  /** how the session's sign-in was made (RFC 8176 values), when recorded */
  amr: string[] | null;
  acr: string | null;
}

const handleOf = (id: string) => createHash('sha256').update(`idport-session:${id}`).digest('base64url').slice(0, 32);

/** The grants a session's sign-ins hold (one per client it signed in to). */
const grantsOf = (payload: { authorizations?: unknown } | Record<string, unknown>): string[] =>
  Object.values((payload.authorizations ?? {}) as Record<string, { grantId?: unknown }>)
    .map((a) => a.grantId)
    .filter((g): g is string => typeof g === 'string');

/**
 * An account's browser sessions: listing them (where, what browser, when), and ending one or all
 * but the current one. Ending a session destroys it and revokes its grants (with their codes,
 * refresh tokens and opaque access tokens); "everywhere else" also revokes grants no session holds
 * any more (refresh tokens that outlived their browser session). `onSessionsEnded` hears of every
 * session ended here (back-channel logout).
 */
export function createAccountSessions(store: Store, onSessionsEnded?: SessionsEnded) {
  const sessions = store.model('Session');
  const grants = store.model('Grant');

  const revoke = async (ids: Iterable<string>) => {
    let n = 0;
    for (const id of new Set(ids)) {
      await grants.revokeByGrantId(id);
      n += 1;
    }
    return n;
  };

  return {
    /** The account's sessions, the current one first (none for an operator), then the most recently used. */
    async list(accountId: string, currentId = ''): Promise<AccountSession[]> {
      const found = await sessions.findByAccount(accountId);
      const list = found.map(({ id, payload }) => ({
        handle: handleOf(id),
        signedInAt: typeof payload.loginTs === 'number' ? payload.loginTs * 1000 : null,
        info: sessionInfoOf(payload),
        current: id === currentId,
        clients: clientsOfSession({ id, payload }).map((c) => c.clientId),
        amr: Array.isArray(payload.amr) ? payload.amr.map(String) : null,
        acr: typeof payload.acr === 'string' ? payload.acr : null,
      }));
      const recency = (s: AccountSession) => (s.current ? Infinity : (s.info?.lastSeen ?? s.signedInAt ?? 0));
      return list.sort((a, b) => recency(b) - recency(a));
    },

    /**
     * Ends the account's session named by `handle` (never `currentId`'s: that is a sign-out);
     * undefined when there is no such session of this account (another account's is not looked at).
     */
    async end(accountId: string, handle: string, currentId = ''): Promise<{ grants: number } | undefined> {
      const found = (await sessions.findByAccount(accountId)).find(({ id }) => id !== currentId && handleOf(id) === handle);
      if (!found) return undefined;
      await sessions.destroy(found.id);
      onSessionsEnded?.(accountId, [found]);
      return { grants: await revoke(grantsOf(found.payload)) };
    },

    /**
     * Ends every session of the account but the current one (its id and its grants as the request
     * loaded it), and every grant the current session does not hold.
     */
    async endOthers(accountId: string, current: { id: string; authorizations?: unknown }): Promise<{ sessions: number; grants: number }> {
      const keep = new Set(grantsOf(current));
      const others = (await sessions.findByAccount(accountId)).filter(({ id }) => id !== current.id);
      for (const { id } of others) await sessions.destroy(id);
      if (others.length) onSessionsEnded?.(accountId, others);
      const grantIds = (await grants.findByAccount(accountId)).map(({ id }) => id).filter((id) => !keep.has(id));
      return { sessions: others.length, grants: await revoke(grantIds) };
    },

    /** An operator's "sign out everywhere": every session and every grant of the account. */
    endAll(accountId: string): Promise<{ sessions: number; grants: number }> {
      return this.endOthers(accountId, { id: '' });
    },
  };
}

export type AccountSessions = ReturnType<typeof createAccountSessions>;
