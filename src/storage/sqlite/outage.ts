import { StoreUnavailableError } from '../errors.js';

/**
 * SQLite errors that mean "the database cannot be used right now" rather than "this request is
 * wrong": the write lock held past busy_timeout, I/O errors, a full or read-only disk, a file
 * that cannot be opened, and a closed connection.
 */
const outageCodes = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOLFS)/;

export function isOutage(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && outageCodes.test(code)) return true;
  // (by name: better-sqlite3's TypeError may come from another realm than ours, e.g. under jest)
  return (err as Error | undefined)?.name === 'TypeError' && typeof message === 'string' && message.includes('database connection is not open');
}

/** The error callers see: StoreUnavailableError for an outage, the error itself otherwise. */
export const asStoreError = (err: unknown): unknown =>
  isOutage(err) ? new StoreUnavailableError(`the database is unavailable: ${(err as Error).message}`, { cause: err }) : err;

/**
 * Maps outages thrown by a sub-store's methods (synchronous statements inside async methods) to
 * StoreUnavailableError. Methods named in `batched` already run through a turn batch, which maps
 * its own errors: they are passed through untouched (no extra promise on the hot path).
 */
export function mapOutages<T extends object>(target: T, batched: readonly (keyof T)[] = []): T {
  const wrapped = { ...target };
  for (const [name, value] of Object.entries(target) as [keyof T, unknown][]) {
    if (typeof value !== 'function' || batched.includes(name)) continue;
    const fn = value as (...args: unknown[]) => unknown;
    wrapped[name] = ((...args: unknown[]) => {
      try {
        const result = fn.apply(target, args);
        return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(asStoreError(err))) : result;
      } catch (err) {
        throw asStoreError(err);
      }
    }) as T[keyof T];
  }
  return wrapped;
}
