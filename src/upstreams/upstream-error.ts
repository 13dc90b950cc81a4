/**
 * An upstream sign-in that did not work. `reason` picks the page the user sees; `detail` is for
 * the log only (it may quote the upstream's answer, never a token).
 */
export class UpstreamError extends Error {
  readonly code = 'ERR_UPSTREAM';
  constructor(
    readonly reason: 'unreachable' | 'rejected' | 'invalid',
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`upstream sign-in ${reason}: ${detail}`, options);
  }
}

const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

/** Whether an error from fetch (or openid-client around it) means the upstream did not answer. */
export function isUnreachable(err: unknown): boolean {
  for (let e = err as { name?: string; code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth += 1) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
    if (typeof e.code === 'string' && networkCodes.has(e.code)) return true;
    if (e.name === 'TypeError' && /fetch failed/.test(String((e as Error).message))) return true;
  }
  return false;
}

/** Any failure of a step against the upstream, as an UpstreamError. */
export function asUpstreamError(err: unknown, step: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { name?: string; message?: string; error?: string; code?: string; status?: number };
  if (isUnreachable(err)) return new UpstreamError('unreachable', `${step}: no answer (${e.message ?? e.name})`, { cause: err });
  // the upstream said no in the authorization response (access_denied, ...)
  if (e.name === 'AuthorizationResponseError') return new UpstreamError('rejected', `${step}: ${e.error ?? 'error'}`, { cause: err });
  const what = [e.name, e.code, e.error, e.status ? `HTTP ${e.status}` : undefined].filter(Boolean).join(' ');
  return new UpstreamError('invalid', `${step}: ${what}: ${(e.message ?? '').slice(0, 200)}`, { cause: err });
}
