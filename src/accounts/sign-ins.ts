import type { OidcPayload, Store } from '../storage/types.js';

/**
 * Told of the browser sessions our own code ended (as they were stored), after they are gone:
 * the app sends their clients back-channel logout tokens. Returns at once.
 */
export type SessionsEnded = (accountId: string, sessions: { id: string; payload: OidcPayload }[]) => void;

export interface EndedSignIns {
  sessions: number;
  grants: number;
}

/**
 * An account's sign-ins as the store holds them: browser sessions, and grants (one per sign-in
 * and client) with the codes and tokens issued under them. JWT access tokens, which APIs verify
 * on their own, run until they expire.
 */
export function createSignIns(store: Store, onSessionsEnded?: SessionsEnded) {
  const grantsOf = async (accountId: string, clientId?: string) =>
    (await store.model('Grant').findByAccount(accountId)).filter(({ payload }) => clientId === undefined || payload.clientId === clientId);

  const revoke = async (grants: { id: string }[]) => {
    for (const { id } of grants) await store.model('Grant').revokeByGrantId(id);
    return grants.map(({ id }) => id);
  };

  return {
    /** Revokes every grant of the account for one client; returns their ids. */
    revokeGrants: async (accountId: string, clientId: string) => revoke(await grantsOf(accountId, clientId)),

    /** Ends every session of the account and revokes all its grants (a credential changed or the account went). */
    async endAll(accountId: string): Promise<EndedSignIns> {
      const sessions = await store.model('Session').findByAccount(accountId);
      for (const { id } of sessions) await store.model('Session').destroy(id);
      if (sessions.length) onSessionsEnded?.(accountId, sessions);
      const grants = await revoke(await grantsOf(accountId));
      return { sessions: sessions.length, grants: grants.length };
    },
  };
}

export type SignIns = ReturnType<typeof createSignIns>;
