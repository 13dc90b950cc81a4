/**
 * The values the OpenID conformance suite generates for its requests, reproduced with the same
 * shapes and character sets (not its code): state and nonce (CreateRandomStateValue,
 * CreateRandomNonceValue), the end-session state (CreateRandomEndSessionState) and the forged
 * id_token_hint of oidcc-rp-initiated-logout-bad-id-token-hint (GenerateFakeIdTokenClaims,
 * GenerateJWKsFromClientSecret, SignFakeIdToken).
 */
import { randomInt } from 'node:crypto';
import { SignJWT } from 'jose';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ALPHANUMERIC = `${DIGITS}${LETTERS}`;

const pick = (alphabet: string, count: number) => Array.from({ length: count }, () => alphabet[randomInt(alphabet.length)]).join('');

/** Characters in the given inclusive code point ranges. */
const ranges = (...pairs: [string, string][]) =>
  pairs.flatMap(([from, to]) => Array.from({ length: to.charCodeAt(0) - from.charCodeAt(0) + 1 }, (_, i) => String.fromCharCode(from.charCodeAt(0) + i))).join('');

/**
 * A state or nonce as the suite makes it: `length` alphanumerics (10 by default); a longer one is
 * alphanumerics ending in "-._~", to check every URL-safe character survives (the logout plan and
 * oidcc-prompt-none-not-logged-in ask for a 128-character state, client 2 of oidcc-refresh-token
 * for a 43-character nonce).
 */
export function suiteRandomValue(length = 10): string {
  return length > 10 ? `${pick(ALPHANUMERIC, length - 4)}-._~` : pick(ALPHANUMERIC, length);
}

/**
 * The `state` sent to the end_session_endpoint: 50 letters, 10 digits and 30 punctuation
 * characters from RFC 6749 Appendix A's VSCHAR (%x20-7E), with "+", " " and ";" turned into "~"
 * as the suite does (so "&", "#", "%", "=", quotes, "<", ">" and "\" all occur).
 */
export function endSessionState(): string {
  const punctuation = ranges([' ', '/'], [':', '@'], ['[', '`'], ['{', '~']);
  return `${pick(LETTERS, 50)}${pick(DIGITS, 10)}${pick(punctuation, 30)}`.replace(/[+ ;]/g, '~');
}

/**
 * The id_token_hint the suite forges for oidcc-rp-initiated-logout-bad-id-token-hint: an "ID
 * token issued by the client", with iss and aud the wrong way round, sub "SubjectID" and nonce
 * "flibble", valid for 5 minutes, signed HS256 with the client secret, no kid.
 */
export function forgedIdTokenHint(issuer: string, client: { client_id: string; client_secret: string }): Promise<string> {
  const secret = new TextEncoder().encode(client.client_secret);
  if (secret.length < 32) throw new Error('the suite needs a client secret of at least 32 bytes to sign HS256');
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: client.client_id, sub: 'SubjectID', aud: issuer, nonce: 'flibble', iat, exp: iat + 300 })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(secret);
}
