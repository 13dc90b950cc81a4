/** A browser session as the store holds it (oidc-provider's Session payload). */
export interface EndedSession {
  id: string;
  payload: Record<string, unknown>;
}

/**
 * The clients a session signed in to, each with the sid oidc-provider gave that client in the
 * session's ID tokens (`authorizations[clientId].sid`, what session.sidFor(clientId) returns).
 */
export function clientsOfSession({ payload }: EndedSession): { clientId: string; sid: string | undefined }[] {
  const authorizations = payload.authorizations;
  if (!authorizations || typeof authorizations !== 'object') return [];
  return Object.entries(authorizations as Record<string, { sid?: unknown }>).map(([clientId, a]) => ({
    clientId,
    sid: typeof a?.sid === 'string' ? a.sid : undefined,
  }));
}
