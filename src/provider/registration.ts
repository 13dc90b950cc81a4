import type { Configuration } from 'oidc-provider';

import { newClientId, newClientSecret } from '../clients/client-service.js';
import type { Config } from '../config/schema.js';


type Features = NonNullable<Configuration['features']>;

/**
 * Dynamic client registration (RFC 7591) and its management with registration access tokens
 * (RFC 7592), when `registration.mode` is not off. Initial access tokens are checked in front of
 * oidc-provider (src/registration/registration-gate.ts), where each use is counted atomically in
 * the store; the client policy applies through extraClientMetadata (client-metadata.ts). The
 * registration access token is rotated on every update.
 */
export function registrationFeatures(mode: Config['registration']['mode']): Pick<Features, 'registration' | 'registrationManagement'> {
  const enabled = mode !== 'off';
  return {
    registration: {
      enabled,
      initialAccessToken: false,
      issueRegistrationAccessToken: true,
      idFactory: newClientId,
      secretFactory: async () => newClientSecret(),
    },
    registrationManagement: { enabled, rotateRegistrationAccessToken: true },
  };
}

/**
 * How oidc-provider fetches what clients name (jwks_uri; sector_identifier_uri is refused at
 * registration): with an https issuer, through its own guard, which closes a connection to a
 * special-use address (loopback, private, link-local) before anything is sent. It builds the
 * guard on Node's own fetch dispatcher; where it cannot find one (inside jest's module sandbox)
 * it warns and fetches unguarded, so test/security/fetch-guard.test.ts runs real processes. With
 * a plain-http issuer (development) the guard is left out, so that an RP on this machine can
 * serve its keys from 127.0.0.1.
 */
export function clientFetch(production: boolean): NonNullable<Configuration['fetch']> {
  return (url, options) => {
    if (production) return globalThis.fetch(url, options);
    const unguarded: RequestInit & { dispatcher?: unknown } = { ...options };
    delete unguarded.dispatcher;
    return globalThis.fetch(url, unguarded);
  };
}
