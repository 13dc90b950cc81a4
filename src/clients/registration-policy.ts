import { isDeepStrictEqual } from 'node:util';

import { checkClientMetadata, tokenExchangeGrant, type OwnProperty } from './client-policy.js';

/**
 * Our properties only the operator grants (`idport clients add/update`): each gives a client
 * power over users or APIs beyond its own sign-ins, so a client never grants one to itself.
 * require_pkce stays open: a confidential client may rely on the nonce instead (RFC 9700 §2.1.1),
 * which weakens nobody's protection but its own; the policy still refuses it to public clients.
 */
export const operatorOnlyProperties: readonly OwnProperty[] = ['first_party', 'api_scopes', 'introspect_for', 'default_audience', 'require_mfa', 'web_origins', 'allow_impersonation'];

type Metadata = Record<string, unknown>;

/** URIs the server itself sends requests to (keys it reads; logout tokens it posts, when back-channel logout is on). */
const serverFetched = ['jwks_uri', 'backchannel_logout_uri'] as const;

export interface RegistrationContext {
  /** the issuer is https: URIs the server fetches must be https too */
  production: boolean;
  /** on an update (RFC 7592): the client as stored, whose operator-set values may be repeated unchanged */
  current?: Metadata | undefined;
}

/**
 * Metadata a client registers or updates itself with (RFC 7591/7592): the one client policy
 * (client-policy.ts), no operator-only property, and nothing that makes the server fetch a URI
 * it should not. Returns why it is refused, or undefined.
 */
export function checkRegistration(metadata: Metadata, { production, current }: RegistrationContext): string | undefined {
  for (const key of operatorOnlyProperties) {
    const value = metadata[key];
    if (value === undefined || (current && isDeepStrictEqual(value, current[key]))) continue;
    return `${key} is granted by the operator only (idport clients), never through registration`;
  }
  // Token exchange turns other clients' tokens into new ones: the operator decides who may.
  if (Array.isArray(metadata.grant_types) && metadata.grant_types.includes(tokenExchangeGrant) && !(current && Array.isArray(current.grant_types) && current.grant_types.includes(tokenExchangeGrant))) {
    return 'the token-exchange grant is granted by the operator only (idport clients), never through registration';
  }
  // The server fetches these URIs itself: an open registration endpoint must not make it a proxy
  // into the network it runs in. Pairwise subjects are not offered, so no sector identifier.
  if (metadata.sector_identifier_uri !== undefined) return 'sector_identifier_uri is not supported (idport issues public subject identifiers only)';
  if (production) {
    const plain = serverFetched.find((key) => typeof metadata[key] === 'string' && !/^https:/i.test(metadata[key]));
    if (plain) return `${plain} must be an https URI`;
  }
  return checkClientMetadata(metadata, { production });
}
