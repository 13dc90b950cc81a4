/**
 * The database cannot be used right now (unreachable, closed, out of disk, locked too long): the
 * operation may succeed if retried later. The HTTP layer answers it with 503 and Retry-After.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'ERR_STORE_UNAVAILABLE';
}

/** The store could not be opened at start-up (unreachable, bad credentials, bad URL). */
export class StoreConnectError extends Error {
  readonly code = 'ERR_STORE_CONNECT';
}
