/**
 * What the OpenID conformance suite checks on the back-channel logout request the OP sends the
 * suite's RP (oidcc-backchannel-rp-initiated-logout), modelled on its conditions: the request
 * (POST, form body, logout_token only), the token's header (signed, not alg none, typ logout+jwt,
 * a kid of the module's JWKS), its signature against that JWKS, and its claims (iss, aud, iat, exp,
 * jti, the back-channel logout event with an object value, no nonce, sid and sub matching the ID
 * token of the logged-out sign-in). Each finding names what it models.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';

import type { LogoutDelivery } from '../helpers/logout-receiver.js';
import type { Findings } from './checks.js';

const event = 'http://schemas.openid.net/event/backchannel-logout';

export interface Expected {
  issuer: string;
  clientId: string;
  /** the ID token of the sign-in that was logged out */
  idToken: JWTPayload & { sid?: unknown };
  jwks: JSONWebKeySet;
}

export async function logoutRequestFindings(d: LogoutDelivery, expected: Expected): Promise<{ findings: Findings; claims?: JWTPayload }> {
  const findings: Findings = [];
  if (d.method !== 'POST') findings.push(`EnsureBackChannelLogoutRequestIsPost: ${d.method}`);
  if (!/^application\/x-www-form-urlencoded\b/.test(d.contentType)) findings.push(`ExtractLogoutTokenFromBackChannelLogoutRequest: content type ${d.contentType}`);
  if (!d.token) return { findings: [...findings, 'ExtractLogoutTokenFromBackChannelLogoutRequest: no logout_token'] };
  const unexpected = d.fields.filter((f) => f !== 'logout_token');
  if (unexpected.length) findings.push(`CheckForUnexpectedParametersInBackChannelLogoutRequest: ${unexpected.join(', ')}`);

  const header = decodeProtectedHeader(d.token);
  if (!header.alg || header.alg === 'none') findings.push('ValidateLogoutTokenSignature: unsigned (alg none)');
  if (header.typ !== 'logout+jwt') findings.push(`CheckLogoutTokenTyp: typ ${String(header.typ)} (logout+jwt expected)`);
  if (!expected.jwks.keys.some((k) => k.kid === header.kid)) findings.push(`ValidateLogoutTokenSignature: kid ${String(header.kid)} not in the server's JWKS`);
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(d.token, createLocalJWKSet(expected.jwks)));
  } catch (err) {
    return { findings: [...findings, `ValidateLogoutTokenSignature: ${(err as Error).message}`] };
  }

  const now = Date.now() / 1000;
  if (claims.iss !== expected.issuer) findings.push(`ValidateLogoutTokenClaims: iss ${String(claims.iss)}`);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(expected.clientId)) findings.push(`ValidateLogoutTokenClaims: aud ${JSON.stringify(claims.aud)}`);
  if (typeof claims.iat !== 'number' || Math.abs(claims.iat - now) > 300) findings.push(`ValidateLogoutTokenClaims: iat ${String(claims.iat)} not within 5 minutes of now`);
  if (typeof claims.exp !== 'number' || claims.exp <= now) findings.push(`ValidateLogoutTokenClaims: exp ${String(claims.exp)} missing or past`);
  if (typeof claims.jti !== 'string' || !claims.jti) findings.push('ValidateLogoutTokenClaims: no jti');
  const events = claims.events as Record<string, unknown> | undefined;
  const value = events?.[event];
  if (!value || typeof value !== 'object' || Array.isArray(value)) findings.push(`ValidateLogoutTokenClaims: events ${JSON.stringify(events)} lacks ${event} with a JSON object`);
  if ('nonce' in claims) findings.push('ValidateLogoutTokenClaims: nonce present');
  if (typeof claims.sid !== 'string' && typeof claims.sub !== 'string') findings.push('ValidateLogoutTokenClaims: neither sid nor sub');
  if (claims.sid !== undefined && claims.sid !== expected.idToken.sid) findings.push(`CheckLogoutTokenSidMatchesIdToken: ${String(claims.sid)} vs ${String(expected.idToken.sid)}`);
  if (claims.sub !== undefined && claims.sub !== expected.idToken.sub) findings.push(`CheckLogoutTokenSubMatchesIdToken: ${String(claims.sub)} vs ${String(expected.idToken.sub)}`);
  return { findings, claims };
}
