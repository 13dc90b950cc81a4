import type * as client from 'openid-client';

import type { UpstreamRecord } from '../storage/types.js';
import { appleClientSecret, applePrivateKey } from './apple-client-secret.js';
import { createOidcUpstream } from './oidc-upstream.js';
import type { UpstreamProtocol } from './upstream-protocol.js';

/**
 * Sign in with Apple: OpenID Connect at https://appleid.apple.com (discovery, PKCE, state, nonce,
 * the ID token checked as for any OpenID provider), with three differences:
 *
 * - `response_mode=form_post`, which Apple requires when the scope asks for the name or email: Apple
 *   POSTs code and state to the redirect URI (upstream-callback.ts takes POST). On the first
 *   authorization it also posts `user`, a JSON object with the name. That name is not signed (any
 *   page could post one) and never comes again, so idport ignores it: the account gets the email.
 * - No client secret to paste: idport signs one for each token request (apple-client-secret.ts)
 *   with the team's private key, sealed in the upstream's secrets like a client secret.
 * - Apple says `email_verified` as the string "true" (older tokens) or the boolean true: both count
 *   here, and only for this preset, because Apple documents it so and signs it in the ID token.
 *   (Elsewhere only a boolean true counts: a string is not what OpenID Connect says.) Private
 *   relay addresses (`…@privaterelay.appleid.com`) are verified too: mail to them reaches the user.
 */
export function createAppleUpstream(privateKey: (u: UpstreamRecord) => Promise<string>): UpstreamProtocol {
  const clientAuth = async (upstream: UpstreamRecord): Promise<client.ClientAuth> => {
    const key = applePrivateKey(await privateKey(upstream));
    const claims = { teamId: upstream.settings.teamId ?? '', keyId: upstream.settings.keyId ?? '', clientId: upstream.clientId, audience: upstream.issuer };
    // client_secret_post, with a new secret each time
    return (_as, c, body) => {
      body.set('client_id', c.client_id);
      body.set('client_secret', appleClientSecret(key, claims));
    };
  };

  return createOidcUpstream(() => Promise.reject(new Error('apple has no client secret')), {
    clientAuth,
    authorizationParams: { response_mode: 'form_post' },
    claims: (claims) => ({ ...claims, email_verified: claims.email_verified === true || claims.email_verified === 'true' }),
  });
}
