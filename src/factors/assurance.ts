/**
 * Authentication context classes (acr) and methods (amr, RFC 8176) that idport asserts.
 * `acr` says how strong the sign-in was; `amr` says what was used.
 */
export const acr = {
  /** one factor: a password */
  singleFactor: 'urn:idport:acr:1fa',
  /** two factors: a password and a one-time code or passkey, or a passkey with user verification */
  multiFactor: 'urn:idport:acr:mfa',
} as const;

export const acrValues = [acr.singleFactor, acr.multiFactor];

/** `fed`: signed in at an upstream provider (federated) */
export type Amr = 'pwd' | 'hwk' | 'swk' | 'otp' | 'mfa' | 'user' | 'fed';

/** A passkey bound to one authenticator is a hardware key; a synced one, a software key. */
export const passkeyAmr = (deviceType: 'singleDevice' | 'multiDevice'): Amr => (deviceType === 'singleDevice' ? 'hwk' : 'swk');

/** The acr for a set of methods: multi-factor when it says `mfa`. */
export const acrFor = (amr: readonly Amr[]): string => (amr.includes('mfa') ? acr.multiFactor : acr.singleFactor);
