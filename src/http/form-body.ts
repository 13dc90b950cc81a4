import type { Context, Middleware } from 'koa';

import { HttpError } from './http-error.js';

declare module 'koa' {
  interface Request {
    /** the fields of a url-encoded form, set by parseForm */
    body?: unknown;
  }
}

/** The largest form we read: our forms carry a few short fields. */
const maxFormBytes = 16 * 1024;

/** The form as fields: a name sent once has a string, a name sent more than once an array of them. */
export type FormFields = Record<string, string | string[]>;

const unreadable = (why: string) =>
  new HttpError(400, 'invalid_request', `the form body could not be read (${why})`);
const tooLarge = () => new HttpError(413, 'invalid_request', 'the form is too large', { messageKey: 'errors.formTooLarge' });

/**
 * Parses url-encoded forms only (UTF-8, at most 16 KiB, no content coding) into
 * `ctx.request.body`; any other body leaves no fields. Names are taken as sent (`a[b]` is a name,
 * not a nested object) into an object without a prototype, so no field can reach
 * Object.prototype. A bad form is a 400 and a large one a 413, never a 500.
 */
export const parseForm: Middleware = async function parseForm(ctx, next) {
  if (ctx.request.body === undefined) ctx.request.body = await readForm(ctx);
  return next();
};

async function readForm(ctx: Context): Promise<FormFields> {
  const fields: FormFields = Object.create(null) as FormFields;
  if (!ctx.request.is('application/x-www-form-urlencoded')) return fields;
  const coding = ctx.get('content-encoding').toLowerCase();
  if (coding !== '' && coding !== 'identity') throw unreadable(`content encoding ${coding} is not accepted`);
  if ((ctx.request.length ?? 0) > maxFormBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxFormBytes) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw unreadable('the request ended early');
  }
  for (const [name, value] of new URLSearchParams(Buffer.concat(chunks, size).toString('utf8'))) {
    const seen = fields[name];
    if (seen === undefined) fields[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else fields[name] = [seen, value];
  }
  return fields;
}

/** A form field that must be a single string of bounded length; arrays and objects are refused. */
export function formString(ctx: Context, name: string, maxLength: number, required = true): string {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  if (value === undefined && !required) return '';
  if (typeof value !== 'string') throw new HttpError(400, 'invalid_request', `${name} must be a single text value`);
  if (value.length > maxLength) throw new HttpError(400, 'invalid_request', `${name} is too long`);
  return value;
}
