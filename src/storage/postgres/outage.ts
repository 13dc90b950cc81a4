import { StoreUnavailableError } from '../errors.js';

/** Node socket errors: the server cannot be reached or the connection broke. */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * SQLSTATEs that mean "the database cannot be used right now" rather than "this request is
 * wrong": connection exceptions (08), insufficient resources (53: disk full, too many
 * connections), operator intervention (57: shutdown, statement timeout), a read-only server
 * (25006, e.g. a standby after failover), a lock not granted in time (55P03), and failed
 * authentication (28, e.g. a rotated password).
 */
const outageState = /^(08|53|57|28)|^(25006|55P03)$/;

/** pg's own messages for a pool or connection that cannot serve queries. */
const clientMessages = [
  'Connection terminated',
  'Cannot use a pool after calling end on the pool',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Query read timeout',
  'The server does not support SSL connections',
  'There was an error establishing an SSL connection',
];

export function isOutage(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (socketCodes.has(code) || (code.length === 5 && outageState.test(code)))) return true;
  return typeof message === 'string' && clientMessages.some((m) => message.includes(m));
}

/** The error callers see: StoreUnavailableError for an outage, the error itself otherwise. */
export const asStoreError = (err: unknown): unknown =>
  isOutage(err) ? new StoreUnavailableError(`the database is unavailable: ${(err as Error).message}`, { cause: err }) : err;

/** Turns outage errors from every method of a sub-store into StoreUnavailableError. */
export function mapOutages<T extends object>(target: T): T {
  const wrapped = { ...target };
  for (const [name, value] of Object.entries(target) as [keyof T, unknown][]) {
    if (typeof value !== 'function') continue;
    const fn = value as (...args: unknown[]) => Promise<unknown>;
    wrapped[name] = ((...args: unknown[]) => {
      try {
        return fn.apply(target, args).catch((err: unknown) => Promise.reject(asStoreError(err)));
      } catch (err) {
        return Promise.reject(asStoreError(err));
      }
    }) as T[keyof T];
  }
  return wrapped;
}
