/**
 * An error our own routes throw: a stable OAuth-style code, a status, and whether the message may
 * be shown. `messageKey` names the catalogue message that says the same on pages in other languages.
 */
export class HttpError extends Error {
  readonly expose: boolean;
  readonly messageKey: string | undefined;

  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    { expose = status < 500, messageKey }: { expose?: boolean; messageKey?: string } = {},
  ) {
    super(message);
    this.expose = expose;
    this.messageKey = messageKey;
  }
}
