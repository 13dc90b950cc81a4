import type { Context } from 'koa';

import { badRequest, Problem } from './problem.js';

const maxBytes = 100 * 1024;

/** The request's JSON body (undefined when there is none): application/json only, at most 100 KiB. */
export async function readJson(ctx: Context): Promise<unknown> {
  const length = ctx.get('content-length');
  const chunked = ctx.get('transfer-encoding') !== '';
  if (!chunked && (length === '' || length === '0')) return undefined;
  if (!ctx.is('application/json')) throw new Problem(415, 'Unsupported Media Type', 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new Problem(413, 'Content Too Large', `the body may be at most ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('the body is not valid JSON');
  }
}
