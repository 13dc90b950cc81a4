import type { Middleware } from 'koa';

import { noStore } from './no-cache.js';

export interface DeviceSessionDeps {
  /** the stored session with this id, if any */
  findSession: (id: string) => Promise<unknown>;
  /** the session cookie's name (__Host- prefixed with an https issuer) */
  sessionCookie: () => string;
}

/**
 * The code form posts to /device and a signed-in device flow resumes at /device/:uid; both need the
 * session that GET /device stored. Without one (never opened /device, or the session expired),
 * oidc-provider fails while re-rendering its form (a new session cannot be persisted there: a 500
 * for anyone). Such requests start again at GET /device instead, which opens a session.
 */
export function requireDeviceSession({ findSession, sessionCookie }: DeviceSessionDeps): Middleware {
  const needsSession = (method: string, path: string) =>
    (method === 'POST' && path === '/device') || (method === 'GET' && path.startsWith('/device/') && path !== '/device/auth');

  return async function restartWithoutSession(ctx, next) {
    if (!needsSession(ctx.method, ctx.path)) return next();
    // Signed, as oidc-provider reads it: a cookie it would not accept is no session either.
    const id = ctx.cookies.get(sessionCookie(), { signed: true });
    if (id && (await findSession(id))) return next();
    noStore(ctx);
    ctx.status = 303;
    ctx.redirect('/device');
  };
}
