import Provider, { type AdapterPayload } from 'oidc-provider';

/** Where and when a browser session was last used: what /account lists for each session. */
export interface SessionInfo {
  /** the browser's User-Agent (at most 256 characters) */
  userAgent: string;
  /** the client address (behind a trusted proxy, the address the proxy saw) */
  ip: string;
  /** epoch ms of the request that last saved the session */
  lastSeen: number;
}

/**
 * A signed-in session as oidc-provider saves it, plus `idport: SessionInfo` from the request
 * saving it (oidc-provider keeps its own fields only; this is added again on every save).
 */
export function withSessionInfo(payload: AdapterPayload, now = Date.now()): AdapterPayload {
  const ctx = Provider.ctx;
  if (!ctx || typeof payload.accountId !== 'string') return payload;
  const info: SessionInfo = { userAgent: String(ctx.get('user-agent') ?? '').slice(0, 256), ip: ctx.ip, lastSeen: now };
  return { ...payload, idport: info } as AdapterPayload;
}

/** The SessionInfo a stored session payload carries, if any. */
export function sessionInfoOf(payload: Record<string, unknown>): SessionInfo | undefined {
  const info = payload.idport as Partial<SessionInfo> | undefined;
  return info && typeof info.lastSeen === 'number' ? { userAgent: String(info.userAgent ?? ''), ip: String(info.ip ?? ''), lastSeen: info.lastSeen } : undefined;
}
