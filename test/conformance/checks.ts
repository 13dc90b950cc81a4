/**
 * The conditions the OpenID conformance suite evaluates on every flow, modelled (not copied) from
 * its source (openid-certification/conformance-suite, condition/client/* and condition/common/*).
 * Each function collects what is wrong into a list of findings, each prefixed with the name of
 * the suite's condition, so a failure reads like the suite's log; the expect* wrappers assert the
 * list is empty. helpers.ts strings them together per flow (checkFlow, refresh, expectAuthError).
 */
import { createHash } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JSONWebKeySet, type JWK, type JWTPayload } from 'jose';

export type Findings = string[];

/** The suite's allowance for clock skew (ValidateIdToken, AbstractUpdatedAtValid): 5 minutes. */
const SKEW = 5 * 60;
const YEAR = 365 * 24 * 3600;
const nowSeconds = () => Date.now() / 1000;

export function expectNoFindings(findings: Findings) {
  expect(findings).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// JWKS: FetchServerKeys, CheckServerKeysIsValid, ValidateJwksSequence, CheckForKeyIdInServerJWKs,
// CheckDistinctKeyIdValueInServerJWKs (run when every module starts)

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const REQUIRED_MEMBERS: Record<string, string[]> = { RSA: ['e', 'n'], EC: ['x', 'y'], OKP: ['x', 'crv'] };
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export async function serverJwksFindings(jwks: unknown): Promise<Findings> {
  const out: Findings = [];
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return ['ValidateJwksStructure: the server JWKS has no "keys" array'];
  if (keys.length === 0) out.push('CheckServerKeysIsValid: the server JWKS is empty');
  const kids = new Set<string>();
  for (const [i, entry] of keys.entries()) {
    const key = entry as JWK & Record<string, unknown>;
    const where = `key ${i} (kid ${String(key.kid)})`;
    if (typeof entry !== 'object' || entry === null) {
      out.push(`ValidateJwksStructure: ${where} is not a JSON object`);
      continue;
    }
    if (key.kty === 'oct') out.push(`EnsureJwksHasNoPrivateOrSymmetricKeyMaterial: ${where} is a symmetric key`);
    for (const member of PRIVATE_MEMBERS) if (member in key) out.push(`EnsureJwksHasNoPrivateOrSymmetricKeyMaterial: ${where} has "${member}"`);
    for (const member of REQUIRED_MEMBERS[key.kty ?? ''] ?? []) {
      if (typeof key[member] !== 'string') out.push(`ValidateJwksStructure: ${where} has no "${member}"`);
      else if (member !== 'crv' && !BASE64URL.test(key[member] as string)) out.push(`ValidateJwksStructure: ${where} "${member}" is not unpadded base64url`);
    }
    try {
      await importJWK(key, key.alg ?? (key.kty === 'RSA' ? 'RS256' : key.kty === 'EC' ? 'ES256' : 'EdDSA'));
    } catch (err) {
      out.push(`ParseUsableJwksKeys: ${where} cannot be used: ${(err as Error).message}`);
    }
    if (typeof key.kid !== 'string' || key.kid.trim() === '') out.push(`CheckForKeyIdInServerJWKs: ${where} has no kid`);
    else if (kids.has(key.kid)) out.push(`CheckDistinctKeyIdValueInServerJWKs: kid ${key.kid} is used more than once`);
    else kids.add(key.kid);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint responses

export interface SentRequest {
  /** the parameters sent to the authorization endpoint */
  params: Record<string, string>;
  state?: string | undefined;
}

/** CheckStateInAuthorizationResponse */
function stateFindings(callback: URL, request: SentRequest, out: Findings) {
  const actual = callback.searchParams.get('state');
  if (request.state === undefined) {
    if (actual) out.push(`CheckStateInAuthorizationResponse: no state was sent, but "${actual}" came back`);
  } else if (actual !== request.state) {
    out.push(`CheckStateInAuthorizationResponse: state ${JSON.stringify(actual)} instead of ${JSON.stringify(request.state)}`);
  }
}

/** ValidateIssIfPresentInAuthorizationResponse */
function issFindings(callback: URL, issuer: string, out: Findings) {
  const iss = callback.searchParams.get('iss');
  if (iss !== null && iss !== issuer) out.push(`ValidateIssIfPresentInAuthorizationResponse: iss ${iss} is not ${issuer}`);
}

/** The query of the redirect URI the request used (CheckMatchingCallbackParameters). */
const registeredQuery = (request: SentRequest) => (request.params.redirect_uri ? [...new URL(request.params.redirect_uri).searchParams] : []);

/** The suite's entropy estimate (AbstractEnsureMinimumEntropy): Shannon entropy per character × length. */
export function shannonBits(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) perChar -= (n / value.length) * Math.log2(n / value.length);
  return perChar * value.length;
}

/** EnsureMinimum{AuthorizationCode,RefreshToken}Length (128 bits) and …Entropy (over 96 bits). */
function secretFindings(what: string, value: string, out: Findings, { length = true } = {}) {
  if (length && Buffer.byteLength(value) * 8 < 128) out.push(`EnsureMinimum${what}Length: ${Buffer.byteLength(value) * 8} bits, 128 required`);
  if (shannonBits(value) <= 96) out.push(`EnsureMinimum${what}Entropy: about ${Math.round(shannonBits(value))} bits, more than 96 required`);
}

/**
 * A successful code-flow authorization response: CheckMatchingCallbackParameters,
 * ValidateIssIfPresentInAuthorizationResponse, CheckIfAuthorizationEndpointError,
 * CheckStateInAuthorizationResponse, ExtractAuthorizationCodeFromAuthorizationResponse,
 * EnsureMinimumAuthorizationCodeLength/Entropy.
 */
export function authorizationResponseFindings(callback: URL, request: SentRequest, issuer: string): Findings {
  const out: Findings = [];
  for (const [name, value] of registeredQuery(request)) {
    if (callback.searchParams.get(name) !== value) out.push(`CheckMatchingCallbackParameters: "${name}" of the redirect URI did not come back`);
  }
  issFindings(callback, issuer, out);
  const error = callback.searchParams.get('error');
  if (error) out.push(`CheckIfAuthorizationEndpointError: ${error} ${callback.searchParams.get('error_description') ?? ''}`);
  stateFindings(callback, request, out);
  const code = callback.searchParams.get('code');
  if (!code) out.push('ExtractAuthorizationCodeFromAuthorizationResponse: no code');
  else secretFindings('AuthorizationCode', code, out);
  return out;
}

const ERROR_RESPONSE_PARAMS = ['error', 'error_description', 'error_uri', 'state', 'session_state', 'iss'];
// eslint-disable-next-line no-control-regex -- RFC 6749 allows tab, LF and CR here (the suite warns on them separately)
const ERROR_DESCRIPTION = /^[\x09\x0A\x0D\x20-\x21\x23-\x5B\x5D-\x7E]+$/;
const ERROR_URI = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const ERROR_CODE = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;

/** Validate{ErrorDescription,ErrorUri}From…ResponseError and Check…ContainsCRLFTAB, for either endpoint. */
function errorFieldFindings(where: string, fields: { error_description?: unknown; error_uri?: unknown }, out: Findings) {
  const description = fields.error_description;
  if (description !== undefined && description !== null && description !== '') {
    if (typeof description !== 'string' || !ERROR_DESCRIPTION.test(description)) out.push(`ValidateErrorDescriptionFrom${where}: ${JSON.stringify(description)} has characters outside RFC 6749's set`);
    else if (/[\r\n\t]/.test(description)) out.push(`CheckErrorDescriptionFrom${where}ContainsCRLFTAB: ${JSON.stringify(description)}`);
  }
  const uri = fields.error_uri;
  if (uri !== undefined && uri !== null && uri !== '') {
    let parsed = false;
    try {
      parsed = typeof uri === 'string' && Boolean(new URL(uri));
    } catch {
      parsed = false;
    }
    if (!parsed || !ERROR_URI.test(uri as string)) out.push(`ValidateErrorUriFrom${where}: ${JSON.stringify(uri)} is not a valid error_uri`);
  }
}

/**
 * An error sent back to the client's redirect URI: the suite's
 * performGenericAuthorizationEndpointErrorResponseValidation (state, iss, an error and no code,
 * no unexpected parameters, error_description and error_uri syntax).
 */
export function authorizationErrorFindings(callback: URL, request: SentRequest, issuer: string): Findings {
  const out: Findings = [];
  stateFindings(callback, request, out);
  issFindings(callback, issuer, out);
  if (!callback.searchParams.get('error')) out.push('EnsureErrorFromAuthorizationEndpointResponse: no error');
  else if (!ERROR_CODE.test(callback.searchParams.get('error')!)) out.push('EnsureErrorFromAuthorizationEndpointResponse: error has invalid characters');
  if (callback.searchParams.has('code')) out.push('RejectAuthCodeInAuthorizationEndpointResponse: a code came with the error');
  if (callback.hash) out.push(`RejectAuthCodeInAuthorizationEndpointResponse: a fragment came with the error (${callback.hash})`);
  const expected = new Set([...ERROR_RESPONSE_PARAMS, ...registeredQuery(request).map(([name]) => name)]);
  const unexpected = [...callback.searchParams.keys()].filter((name) => !expected.has(name));
  if (unexpected.length) out.push(`CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint: ${unexpected.join(', ')}`);
  errorFieldFindings('AuthorizationEndpointResponseError', Object.fromEntries(callback.searchParams), out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Token endpoint responses

export interface TokenResponse {
  status: number;
  type: string;
  cacheControl: string | null;
  body: Record<string, unknown>;
}

const VSCHAR = /^[\x20-\x7E]+$/;

/**
 * A successful token response (code or refresh grant): CheckTokenEndpointHttpStatus200,
 * CheckTokenEndpointReturnedJsonContentType, CheckTokenEndpointCacheHeaders (no-store),
 * CheckForAccessTokenValue, CheckTokenTypeIsBearer, EnsureMinimumAccessTokenEntropy,
 * EnsureAccessTokenContainsAllowedCharactersOnly, ExtractExpiresIn…/ValidateExpiresIn,
 * Ensure{RefreshToken}ContainsAllowedCharactersOnly, EnsureMinimumRefreshTokenLength/Entropy,
 * ExtractIdTokenFromTokenResponse.
 */
export function tokenResponseFindings(res: TokenResponse, { idToken }: { idToken: 'required' | 'optional' }): Findings {
  const out: Findings = [];
  if (res.status !== 200) return [`CheckTokenEndpointHttpStatus200: ${res.status} ${JSON.stringify(res.body)}`];
  if (!/^application\/json(;|$)/.test(res.type)) out.push(`CheckTokenEndpointReturnedJsonContentType: ${res.type}`);
  if (!(res.cacheControl ?? '').split(',').some((v) => v.trim() === 'no-store')) out.push(`CheckTokenEndpointCacheHeaders: Cache-Control ${String(res.cacheControl)}`);
  const { access_token: accessToken, token_type: tokenType, expires_in: expiresIn, refresh_token: refreshToken, id_token: idTokenValue } = res.body;
  if (typeof accessToken !== 'string' || !accessToken) out.push('CheckForAccessTokenValue: no access_token');
  else {
    if (!VSCHAR.test(accessToken)) out.push('EnsureAccessTokenContainsAllowedCharactersOnly: characters outside %x20-7E');
    secretFindings('AccessToken', accessToken, out, { length: false });
  }
  if (typeof tokenType !== 'string' || !tokenType) out.push('CheckForAccessTokenValue: no token_type');
  else if (tokenType.toLowerCase() !== 'bearer') out.push(`CheckTokenTypeIsBearer: ${tokenType}`);
  if (expiresIn === undefined) out.push('ExtractExpiresInFromTokenEndpointResponse: no expires_in (RFC 6749 recommends it)');
  else if (typeof expiresIn !== 'number' || expiresIn <= 0 || expiresIn > YEAR) out.push(`ValidateExpiresIn: ${JSON.stringify(expiresIn)}`);
  if (refreshToken !== undefined) {
    if (typeof refreshToken !== 'string' || !VSCHAR.test(refreshToken)) out.push('EnsureRefreshTokenContainsAllowedCharactersOnly: characters outside %x20-7E');
    else secretFindings('RefreshToken', refreshToken, out);
  }
  if (idToken === 'required' && (typeof idTokenValue !== 'string' || !idTokenValue)) out.push('ExtractIdTokenFromTokenResponse: no id_token');
  return out;
}

/**
 * An error from the token endpoint (oidcc-codereuse*, the misuse in oidcc-refresh-token):
 * ValidateErrorFromTokenEndpointResponseError, CheckTokenEndpointHttpStatus400,
 * CheckTokenEndpointReturnedJsonContentType, CheckErrorFromTokenEndpointResponseError<expected>,
 * error_description and error_uri syntax.
 */
export function tokenErrorFindings(res: TokenResponse, expected: string): Findings {
  const out: Findings = [];
  const { error } = res.body;
  if (typeof error !== 'string' || !ERROR_CODE.test(error)) out.push(`ValidateErrorFromTokenEndpointResponseError: ${JSON.stringify(error)}`);
  if (res.status !== 400) out.push(`CheckTokenEndpointHttpStatus400: ${res.status}`);
  if (!/^application\/json(;|$)/.test(res.type)) out.push(`CheckTokenEndpointReturnedJsonContentType: ${res.type}`);
  if (error !== expected) out.push(`CheckErrorFromTokenEndpointResponseError: ${String(error)} instead of ${expected}`);
  errorFieldFindings('TokenEndpointResponseError', res.body, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// ID tokens: PerformStandardIdTokenChecks (+ at_hash/c_hash from OIDCCServerTest)

const KTY_FOR_ALG: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', HS: 'oct', Ed: 'OKP' };
const ktyFor = (alg: string) => KTY_FOR_ALG[alg.slice(0, 2)];

/**
 * ValidateIdTokenSignature: exactly one key of the server's JWKS has the token's kid, its alg, its
 * key type and use "sig", and the signature verifies with it. (EnsureIdTokenContainsKid: idport
 * always names the key.)
 */
export async function signatureFindings(jwt: string, jwks: JSONWebKeySet): Promise<Findings> {
  const { alg, kid } = decodeProtectedHeader(jwt);
  if (!alg || alg === 'none') return ['ValidateIdTokenSignature: the ID token is not signed'];
  if (!kid) return ['EnsureIdTokenContainsKid: no kid in the ID token header'];
  const kty = ktyFor(alg);
  const matching = jwks.keys.filter((k) => k.kid === kid && k.alg === alg && k.use === 'sig' && k.kty === kty);
  if (matching.length !== 1) return [`ValidateIdTokenSignature: ${matching.length} keys of the server JWKS have kid ${kid}, alg ${alg}, kty ${kty} and use sig (one expected)`];
  try {
    await compactVerify(jwt, await importJWK(matching[0]!, alg));
    return [];
  } catch (err) {
    return [`ValidateIdTokenSignature: the ID token does not verify with server key ${kid}: ${(err as Error).message}`];
  }
}

/** ValidateIdTokenStandardClaims drops these before checking identity claims. */
const ID_TOKEN_NON_IDENTITY = ['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'c_hash', 'at_hash', 's_hash', 'jti', 'nbf', 'verified_claims'];

const isText = (v: unknown) => typeof v === 'string' && v.trim() !== '' && v.toLowerCase() !== 'null';

function isBirthdate(v: unknown): boolean {
  if (!isText(v)) return false;
  const year = new Date().getUTCFullYear();
  const sane = (y: number) => y >= 1850 && y <= year;
  const full = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v as string);
  if (full) {
    const [y, m, d] = full.slice(1).map(Number) as [number, number, number];
    const date = new Date(Date.UTC(y === 0 ? 2000 : y, m - 1, d));
    const real = date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
    return real && (y === 0 || sane(y));
  }
  return /^[+-]?\d+$/.test(v as string) && sane(Number(v));
}

const ADDRESS_MEMBERS = ['formatted', 'street_address', 'locality', 'region', 'postal_code', 'country'];
const CLAIM_CHECKS: Record<string, [string, (v: unknown) => boolean]> = {
  ...Object.fromEntries(
    ['sub', 'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'email', 'gender', 'zoneinfo', 'locale', 'phone_number', 'txn'].map(
      (name) => [name, ['a string with content', isText]],
    ),
  ),
  email_verified: ['a boolean', (v) => typeof v === 'boolean'],
  phone_number_verified: ['a boolean', (v) => typeof v === 'boolean'],
  birthdate: ['YYYY-MM-DD, 0000-MM-DD or YYYY', isBirthdate],
  updated_at: ['a number', (v) => typeof v === 'number'],
  _claim_names: ['a JSON object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)],
  _claim_sources: ['a JSON object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)],
  address: [
    'an object of strings with content',
    (v) =>
      typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0 &&
      Object.entries(v).every(([k, m]) => !ADDRESS_MEMBERS.includes(k) || isText(m)),
  ],
};

/** AbstractValidateOpenIdStandardClaims (ValidateIdTokenStandardClaims, ValidateUserInfoStandardClaims). */
export function standardClaimFindings(claims: Record<string, unknown>, where: 'IdToken' | 'UserInfo'): Findings {
  const identity = Object.entries(claims).filter(([name]) => where === 'UserInfo' || !ID_TOKEN_NON_IDENTITY.includes(name));
  if (identity.length === 0) return [`Validate${where}StandardClaims: no identity claims`];
  return identity.flatMap(([name, value]) => {
    const check = CLAIM_CHECKS[name];
    return check && !check[1](value) ? [`Validate${where}StandardClaims: ${name} ${JSON.stringify(value)} is not ${check[0]}`] : [];
  });
}

/** Ensure{IdToken,UserInfo}UpdatedAtValid: not in the future, not before 1990. */
export function updatedAtFindings(claims: Record<string, unknown>, where: 'IdToken' | 'UserInfo'): Findings {
  const value = claims.updated_at;
  if (typeof value !== 'number') return [];
  if (value > nowSeconds() + SKEW) return [`Ensure${where}UpdatedAtValid: updated_at ${value} is in the future`];
  if (value < Date.UTC(1990, 0, 1) / 1000) return [`Ensure${where}UpdatedAtValid: updated_at ${value} is before 1990`];
  return [];
}

/** ValidateAtHash / ValidateCHash: the left half of the alg's hash of the value, base64url. */
export function halfHash(value: string, alg: string): string {
  const bits = alg === 'EdDSA' ? '512' : alg.slice(-3);
  const digest = createHash(`sha${bits}`).update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  /** the nonce sent; undefined when none was */
  nonce: string | undefined;
  /** the code and access token the ID token came with, for c_hash and at_hash when present */
  code?: string | undefined;
  accessToken?: string | undefined;
}

/**
 * ValidateIdToken (iss, aud, exp, iat, auth_time, acr), ValidateIdTokenStandardClaims,
 * ValidateIdTokenNonce, ValidateIdTokenACRClaimAgainstRequest (acr a string),
 * ValidateIdTokenSignature, CheckForSubjectInIdToken, EnsureIdTokenUpdatedAtValid, and
 * ValidateAtHash/ValidateCHash when the token carries them.
 */
export async function idTokenFindings(jwt: string, jwks: JSONWebKeySet, want: IdTokenExpectations): Promise<{ claims: JWTPayload; findings: Findings }> {
  const out: Findings = [];
  const claims = decodeJwt(jwt) as JWTPayload & Record<string, unknown>;
  const now = nowSeconds();
  if (claims.iss !== want.issuer) out.push(`ValidateIdToken: iss ${String(claims.iss)} instead of ${want.issuer}`);
  const aud = claims.aud;
  if (aud === undefined) out.push('ValidateIdToken: no aud');
  else if (Array.isArray(aud) ? !aud.includes(want.clientId) : aud !== want.clientId) out.push(`ValidateIdToken: aud ${JSON.stringify(aud)} is not ${want.clientId}`);
  if (typeof claims.exp !== 'number') out.push('ValidateIdToken: no exp');
  else if (claims.exp < now - SKEW) out.push(`ValidateIdToken: expired (exp ${claims.exp})`);
  else if (claims.exp > now + 50 * YEAR) out.push(`ValidateIdToken: exp ${claims.exp} more than 50 years ahead (milliseconds?)`);
  if (typeof claims.iat !== 'number') out.push('ValidateIdToken: no iat');
  else if (claims.iat > now + SKEW) out.push(`ValidateIdToken: iat ${claims.iat} in the future`);
  else if (claims.iat < now - SKEW) out.push(`ValidateIdToken: iat ${claims.iat} more than 5 minutes in the past`);
  if (claims.auth_time !== undefined) {
    if (typeof claims.auth_time !== 'number') out.push(`ValidateIdToken: auth_time ${JSON.stringify(claims.auth_time)} is not a number`);
    else if (claims.auth_time < now - YEAR) out.push(`ValidateIdToken: auth_time ${claims.auth_time} over a year ago`);
    else if (claims.auth_time > now + SKEW) out.push(`ValidateIdToken: auth_time ${claims.auth_time} in the future`);
  }
  if (claims.acr !== undefined && (typeof claims.acr !== 'string' || claims.acr === '')) out.push(`ValidateIdTokenACRClaimAgainstRequest: acr ${JSON.stringify(claims.acr)}`);
  out.push(...standardClaimFindings(claims, 'IdToken'));
  if (!(claims.nonce === undefined && want.nonce === undefined) && claims.nonce !== want.nonce) {
    out.push(`ValidateIdTokenNonce: nonce ${JSON.stringify(claims.nonce)} instead of ${JSON.stringify(want.nonce)}`);
  }
  out.push(...(await signatureFindings(jwt, jwks)));
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') out.push('CheckForSubjectInIdToken: no sub');
  else if (sub.length > 255 || !/^[\x20-\x7E]+$/.test(sub)) out.push(`CheckForSubjectInIdToken: sub ${JSON.stringify(sub)} is not 1-255 printable ASCII characters`);
  out.push(...updatedAtFindings(claims, 'IdToken'));
  const { alg } = decodeProtectedHeader(jwt);
  for (const [claim, value] of [['c_hash', want.code], ['at_hash', want.accessToken]] as const) {
    if (claims[claim] === undefined) continue;
    if (value === undefined) out.push(`Validate${claim === 'c_hash' ? 'CHash' : 'AtHash'}: ${claim} present, nothing to check it against`);
    else if (claims[claim] !== halfHash(value, alg!)) out.push(`Validate${claim === 'c_hash' ? 'CHash' : 'AtHash'}: ${claim} ${String(claims[claim])} is wrong`);
  }
  return { claims, findings: out };
}

const ID_TOKEN_ALLOWED = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'c_hash', 'nbf', 'jti', 'sid', 's_hash', 'openbanking_intent_id', 'txn'];
const SCOPE_CLAIMS: Record<string, string[]> = {
  profile: ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at', 'preferred_username'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

/**
 * EnsureIdTokenDoesNotContainNonRequestedClaims (and EnsureIdTokenDoesNotContainName): only
 * protocol claims and the claims of the scopes asked for (plus, beyond the suite, claims asked for
 * in the id_token member of a claims request).
 */
export function unrequestedClaimFindings(claims: JWTPayload, request: SentRequest): Findings {
  const scopes = (request.params.scope ?? '').split(' ');
  const allowed = new Set([...ID_TOKEN_ALLOWED, ...(scopes.includes('openid') ? scopes.flatMap((s) => SCOPE_CLAIMS[s] ?? []) : [])]);
  if (request.params.claims) {
    for (const name of Object.keys((JSON.parse(request.params.claims) as { id_token?: object }).id_token ?? {})) allowed.add(name);
  }
  const extra = Object.keys(claims).filter((name) => !allowed.has(name));
  return extra.length ? [`EnsureIdTokenDoesNotContainNonRequestedClaims: ${extra.join(', ')} (scope "${request.params.scope ?? ''}")`] : [];
}

/**
 * CompareIdTokenClaims (OIDC Core §12.2), for the ID token of a refresh: iss, sub and aud as
 * before, a new iat, auth_time as before if present, azp as before (and absent if it was).
 */
export function refreshedIdTokenFindings(first: JWTPayload, second: JWTPayload): Findings {
  const out: Findings = [];
  for (const name of ['iss', 'sub'] as const) {
    if (first[name] === undefined || second[name] !== first[name]) out.push(`CompareIdTokenClaims: ${name} ${String(second[name])} instead of ${String(first[name])}`);
  }
  if (first.iat === undefined || second.iat === undefined || first.iat === second.iat) out.push(`CompareIdTokenClaims: iat ${String(second.iat)} is not a new issue time (first ${String(first.iat)})`);
  const audience = (aud: unknown) => JSON.stringify(Array.isArray(aud) ? [...(aud as string[])].sort() : aud);
  if (first.aud === undefined || audience(first.aud) !== audience(second.aud)) out.push(`CompareIdTokenClaims: aud ${audience(second.aud)} instead of ${audience(first.aud)}`);
  if ('auth_time' in second && second.auth_time !== first.auth_time) out.push(`CompareIdTokenClaims: auth_time ${String(second.auth_time)} instead of ${String(first.auth_time)}`);
  if (second.azp !== first.azp) out.push(`CompareIdTokenClaims: azp ${String(second.azp)} instead of ${String(first.azp)}`);
  return out;
}
