import type { AccountClaims } from 'oidc-provider';

import { claimsByScope } from '../provider/claims.js';
import type { AccountRecord } from '../storage/types.js';

/**
 * Claims idport sets itself, from the account's own fields (`sub`, `preferred_username`, `name`,
 * `email`, `updated_at`) or from verification it did (`*_verified`), plus the protocol's own. An
 * operator's `--claims` may not set them: a second account could otherwise claim someone else's
 * verified email, or another subject.
 */
const reserved = new Set([
  'sub', 'preferred_username', 'name', 'email', 'email_verified', 'phone_number_verified', 'updated_at',
  'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'sid',
  'at_hash', 'c_hash', 's_hash', 'cnf', 'client_id', 'scope',
]);

/** The standard claims an operator may set on an account (OpenID Connect Core §5.1), all but the reserved. */
export const settableClaims: ReadonlySet<string> = new Set(Object.values(claimsByScope).flat().filter((c) => !reserved.has(c)));

const isString = (v: unknown) => typeof v === 'string' && v.length <= 2048;
const addressFields = new Set(['formatted', 'street_address', 'locality', 'region', 'postal_code', 'country']);
const isAddress = (v: unknown) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, f]) => addressFields.has(k) && isString(f));

/** Why these extra claims cannot be stored on an account, or undefined when they can. */
export function checkExtraClaims(claims: Record<string, unknown>): string | undefined {
  for (const [name, value] of Object.entries(claims)) {
    if (reserved.has(name)) return `claim "${name}" is set by idport itself and cannot be given with --claims`;
    if (!settableClaims.has(name)) return `claim "${name}" is not a standard claim idport releases (allowed: ${[...settableClaims].join(', ')})`;
    if (name === 'address' ? !isAddress(value) : !isString(value)) {
      return name === 'address' ? 'claim "address" must be an object of strings (formatted, street_address, locality, region, postal_code, country)' : `claim "${name}" must be a string`;
    }
  }
  return undefined;
}

/**
 * The claims oidc-provider may release, from an account record; `sub` is the stable id. Extra
 * claims stored before they were checked are released only if settable today.
 */
export function accountClaims(account: AccountRecord): AccountClaims {
  const extra = Object.fromEntries(Object.entries(account.claims).filter(([name]) => settableClaims.has(name)));
  return {
    ...extra,
    sub: account.id,
    preferred_username: account.username,
    ...(account.name ? { name: account.name } : {}),
    ...(account.email ? { email: account.email, email_verified: account.emailVerified } : {}),
    updated_at: Math.floor(account.updatedAt / 1000),
  };
}
