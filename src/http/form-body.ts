import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';

import { HttpError } from './http-error.js';

/** Parses url-encoded forms only, small ones; anything else is a 400, never a 500. */
export const parseForm = bodyParser({
  enableTypes: ['form'],
  formLimit: '16kb',
  encoding: 'utf-8',
  onError(err: Error) {
    const { status = 400, type = 'parse error' } = err as { status?: number; type?: string };
    const tooLarge = status === 413;
    throw new HttpError(tooLarge ? 413 : 400, 'invalid_request', tooLarge ? 'the form is too large' : `the form body could not be read (${type})`, {
      messageKey: tooLarge ? 'errors.formTooLarge' : undefined,
    });
  },
});

/** A form field that must be a single string of bounded length; arrays and objects are refused. */
export function formString(ctx: Context, name: string, maxLength: number, required = true): string {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  if (value === undefined && !required) return '';
  if (typeof value !== 'string') throw new HttpError(400, 'invalid_request', `${name} must be a single text value`);
  if (value.length > maxLength) throw new HttpError(400, 'invalid_request', `${name} is too long`);
  return value;
}
