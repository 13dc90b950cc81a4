/**
 * RFC 9457 problem details: every error of the admin API is one of these, sent as
 * application/problem+json. `headers` carries e.g. WWW-Authenticate or Retry-After.
 */
export class Problem extends Error {
  readonly code = 'ERR_ADMIN_PROBLEM';
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: { errors?: { path: string; message: string }[]; type?: string } = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  body(instance: string) {
    return { type: this.extra.type ?? 'about:blank', title: this.title, status: this.status, detail: this.detail, instance, ...(this.extra.errors ? { errors: this.extra.errors } : {}) };
  }
}

export const badRequest = (detail: string, errors?: { path: string; message: string }[]) => new Problem(400, 'Bad Request', detail, errors ? { errors } : {});
export const notFound = (detail: string) => new Problem(404, 'Not Found', detail);
export const conflict = (detail: string) => new Problem(409, 'Conflict', detail);
export const preconditionFailed = (detail: string) => new Problem(412, 'Precondition Failed', detail);
export const unprocessable = (detail: string) => new Problem(422, 'Unprocessable Content', detail);
