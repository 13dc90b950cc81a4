/** An error our own routes throw: a stable OAuth-style code, a status, and whether the message may be shown. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly expose = status < 500,
  ) {
    super(message);
  }
}
