import { createHmac, timingSafeEqual } from 'node:crypto';

import { HttpError } from './http-error.js';

/**
 * CSRF tokens for our forms (login and consent per interaction uid, /account per session): an HMAC
 * of the form's id under the store's cookie keys.
 * Stateless, so any node can check a token another node issued; still valid across a key
 * rotation because every current key is tried.
 */
export function createCsrf(getSecrets: () => readonly string[]) {
  const mac = (secret: string, uid: string) => createHmac('sha256', secret).update(`csrf:${uid}`).digest();
  return {
    token(uid: string): string {
      return mac(getSecrets()[0]!, uid).toString('base64url');
    },
    verify(uid: string, token: unknown): boolean {
      if (typeof token !== 'string' || token.length > 128) return false;
      const given = Buffer.from(token, 'base64url');
      return getSecrets().some((secret) => {
        const expected = mac(secret, uid);
        return given.length === expected.length && timingSafeEqual(given, expected);
      });
    },
    /** Throws the 403 every form of ours answers when the posted `csrf` field does not match. */
    assert(uid: string, body: unknown): void {
      if (this.verify(uid, (body as Record<string, unknown> | undefined)?.csrf)) return;
      throw new HttpError(403, 'invalid_request', 'the form expired or did not come from this site; go back and try again', {
        messageKey: 'errors.formExpired',
      });
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
