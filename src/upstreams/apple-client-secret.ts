import { createPrivateKey, sign, type KeyObject } from 'node:crypto';

/** How long each client secret idport makes for Apple is valid (Apple allows up to 180 days). */
export const appleClientSecretSeconds = 300;

export class ApplePrivateKeyError extends Error {}

/**
 * The team's Sign in with Apple private key (the .p8 file Apple lets you download once: PKCS#8
 * PEM, an EC P-256 key). ApplePrivateKeyError, never quoting the key, if it is not one.
 */
export function applePrivateKey(pem: string | undefined): KeyObject {
  const text = pem?.trim() ?? '';
  if (!text) throw new ApplePrivateKeyError('the private key is required for apple (--private-key-file AuthKey_KEYID.p8)');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new ApplePrivateKeyError('the private key is not a PEM private key (give the .p8 file Apple made for the key)');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ApplePrivateKeyError('the private key is not an EC P-256 key (give the .p8 file of a Sign in with Apple key)');
  }
  return key;
}

export interface AppleClientSecretClaims {
  teamId: string;
  keyId: string;
  /** the Services ID (idport's client id at Apple) */
  clientId: string;
  /** Apple's issuer, https://appleid.apple.com: the audience Apple expects */
  audience: string;
}

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Apple's client secret: an ES256 JWT, header `kid` the key id, claims iss = team id, iat, exp,
 * aud = Apple, sub = the Services ID, signed with the team's key. Made fresh for each token
 * request (synchronously: openid-client calls client authentication without waiting), valid 5 minutes.
 */
export function appleClientSecret(key: KeyObject, claims: AppleClientSecretClaims, now = Date.now()): string {
  const iat = Math.floor(now / 1000);
  const input = `${part({ alg: 'ES256', kid: claims.keyId })}.${part({ iss: claims.teamId, iat, exp: iat + appleClientSecretSeconds, aud: claims.audience, sub: claims.clientId })}`;
  // JWS wants the raw r||s signature, not DER
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
