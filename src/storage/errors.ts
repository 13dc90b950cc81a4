/** The database cannot be reached right now; requests should get a 503 and may be retried. */
export class StoreUnavailableError extends Error {
  readonly code = 'ERR_STORE_UNAVAILABLE';
  readonly status = 503;
}

/** The store could not be opened at start-up (unreachable, bad credentials, bad URL). */
export class StoreConnectError extends Error {
  readonly code = 'ERR_STORE_CONNECT';
}
