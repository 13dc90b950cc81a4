/**
 * `--records=N`: what a store holds after a while in production, so lookups are measured against
 * full tables, not empty ones: N sessions (each with a uid, as oidc-provider writes them), N grants
 * and N access tokens bound to them, for other accounts, written through idport's oidc-provider
 * adapter. Only idport is filled: the baseline's in-memory adapter is an LRU of at most 1,000
 * records per model, and its lookups do not depend on how many it holds.
 */
import { randomBytes } from 'node:crypto';

const id = () => randomBytes(16).toString('base64url');

export async function fillRecords(adapterFor, n, clientId) {
  const ttl = 3600;
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < n; i += 1000) {
    const writes = [];
    for (let k = i; k < Math.min(n, i + 1000); k += 1) {
      const accountId = `bench-other-${k}`;
      const grantId = id();
      const sessionId = id();
      const uid = id();
      writes.push(
        adapterFor('Session').upsert(sessionId, { jti: sessionId, uid, accountId, loginTs: now, kind: 'Session', exp: now + ttl, iat: now, authorizations: { [clientId]: { sid: id(), grantId } } }, ttl),
        adapterFor('Grant').upsert(grantId, { jti: grantId, accountId, clientId, kind: 'Grant', openid: { scope: 'openid profile email' }, exp: now + ttl, iat: now }, ttl),
      );
      const at = id();
      writes.push(
        adapterFor('AccessToken').upsert(at, { jti: at, accountId, clientId, grantId, sessionUid: uid, expiresWithSession: true, scope: 'openid profile email', kind: 'AccessToken', exp: now + ttl, iat: now }, ttl),
      );
    }
    await Promise.all(writes);
  }
}
