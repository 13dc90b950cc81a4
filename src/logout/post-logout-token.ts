import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

import { checkHost, guardedLookup } from './special-use-addresses.js';

export interface PostAnswer {
  status: number;
  retryAfter: string | undefined;
}

/**
 * POSTs a Logout Token (form body `logout_token`) to a client's backchannel_logout_uri and answers
 * with the status and Retry-After; the body is never read (the connection is closed once the
 * status line and headers arrive), and redirects are not followed. With `guard`, the URI may not
 * reach a special-use address (special-use-addresses.ts): an IP literal is refused before
 * connecting, a name when it resolves to one. Rejects on that, on connection errors and when
 * `signal` aborts.
 */
export async function postLogoutToken(uri: string, token: string, { signal, guard }: { signal: AbortSignal; guard: boolean }): Promise<PostAnswer> {
  const url = new URL(uri);
  if (guard) checkHost(url);
  const body = new URLSearchParams({ logout_token: token }).toString();
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        signal,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), accept: 'application/json', 'user-agent': 'idport back-channel logout' },
        ...(guard ? { lookup: guardedLookup } : {}),
      },
      (res) => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
        res.destroy();
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
