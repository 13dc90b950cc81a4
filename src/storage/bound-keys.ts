import { isStoreKey } from './lookup-key.js';
import type { OidcPayload } from './types.js';

/**
 * What a token payload is bound to, as oidc-provider checks it: the grant its `grantId` names,
 * and, when it `expiresWithSession`, the session whose uid is its `sessionUid`. A value no store
 * may look up (isStoreKey) names nothing, as `find` would answer for it.
 */
export function boundKeys(token: OidcPayload): { grantId?: string; sessionUid?: string } {
  const { grantId, sessionUid } = token;
  return {
    ...(isStoreKey(grantId) ? { grantId } : {}),
    ...(token.expiresWithSession === true && isStoreKey(sessionUid) ? { sessionUid } : {}),
  };
}
