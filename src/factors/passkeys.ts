import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

import type { FactorStore, PasskeyRecord } from '../storage/types.js';
import type { Challenges } from './challenges.js';

export interface PasskeyDeps {
  /** the issuer URL: its origin is the only origin accepted, its host the RP ID */
  issuer: string;
  productName: string;
  factors: FactorStore;
  challenges: Challenges;
}

export interface PasskeyAccount {
  id: string;
  username: string;
  name: string | null;
}

/** Why a ceremony failed, for logs and audit (the user is told only that it did not work). */
export type PasskeyFailure = 'malformed' | 'unknown-credential' | 'wrong-account' | 'not-verified' | 'replayed';

export type PasskeySignIn = { ok: true; passkey: PasskeyRecord } | { ok: false; reason: PasskeyFailure };

/**
 * @simplewebauthn/server, loaded on the first passkey ceremony: with its certificate parsers it
 * takes ~0.4 s to load, which every start (and every cluster worker) would otherwise pay.
 */
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthn = () => (library ??= import('@simplewebauthn/server'));

/** The WebAuthn user handle of an account: its id's bytes (never an email or a username). */
const userHandle = (accountId: string) => new TextEncoder().encode(accountId);

/**
 * Passkeys (WebAuthn level 3) through @simplewebauthn/server: discoverable credentials, user
 * verification required, no attestation; the RP ID is the issuer's host and the issuer's origin
 * the only one accepted. Challenges are single use, short-lived and bound to what they are for.
 */
export function createPasskeys({ issuer, productName, factors, challenges }: PasskeyDeps) {
  const origin = new URL(issuer).origin;
  const rpID = new URL(issuer).hostname;

  const parse = <T>(json: unknown): T | undefined => {
    try {
      const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
      return value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string' ? (value as T) : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    /** Options for the browser's navigator.credentials.create(), for `binding` (e.g. `enrol:<session uid>`). */
    async registrationOptions(account: PasskeyAccount, binding: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await factors.listPasskeys(account.id);
      const { generateRegistrationOptions } = await webauthn();
      return generateRegistrationOptions({
        rpName: productName,
        rpID,
        userName: account.username,
        userDisplayName: account.name ?? account.username,
        userID: userHandle(account.id),
        challenge: challenges.issue(binding),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      });
    },

    /** Checks the browser's answer to registrationOptions and stores the passkey as `name`. */
    async register(account: PasskeyAccount, answer: unknown, binding: string, name: string): Promise<PasskeyRecord | PasskeyFailure> {
      const response = parse<RegistrationResponseJSON>(answer);
      if (!response) return 'malformed';
      const { verifyRegistrationResponse } = await webauthn();
      const verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: (challenge) => challenges.use(binding, challenge),
        expectedOrigin: origin,
        expectedRPID: rpID,
        requireUserVerification: true,
      }).catch(() => undefined);
      if (!verified?.verified) return 'not-verified';
      const info = verified.registrationInfo;
      const record = {
        id: info.credential.id,
        accountId: account.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: info.credential.transports ?? response.response.transports ?? [],
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        aaguid: info.aaguid,
        name,
      };
      await factors.addPasskey(record);
      return (await factors.findPasskey(record.id))!;
    },

    /**
     * Options for navigator.credentials.get(): any discoverable passkey (sign-in without a
     * username), or only `accountId`'s passkeys (as a second factor).
     */
    async authenticationOptions(binding: string, accountId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = accountId ? (await factors.listPasskeys(accountId)).map((p) => ({ id: p.id, transports: p.transports })) : undefined;
      const { generateAuthenticationOptions } = await webauthn();
      return generateAuthenticationOptions({ rpID, challenge: challenges.issue(binding), userVerification: 'required', ...(allow ? { allowCredentials: allow } : {}) });
    },

    /** Checks the browser's assertion: signature, origin, RP ID, user verification, challenge, counter. */
    async signIn(answer: unknown, binding: string, accountId?: string): Promise<PasskeySignIn> {
      const response = parse<AuthenticationResponseJSON>(answer);
      if (!response) return { ok: false, reason: 'malformed' };
      const passkey = await factors.findPasskey(response.id);
      if (!passkey) return { ok: false, reason: 'unknown-credential' };
      const handle = response.response.userHandle;
      const wrongUser = handle !== undefined && Buffer.from(handle, 'base64url').toString() !== passkey.accountId;
      if (wrongUser || (accountId !== undefined && passkey.accountId !== accountId)) return { ok: false, reason: 'wrong-account' };
      const { verifyAuthenticationResponse } = await webauthn();
      const verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: (challenge) => challenges.use(binding, challenge),
        expectedOrigin: origin,
        expectedRPID: rpID,
        credential: { id: passkey.id, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: passkey.transports },
        requireUserVerification: true,
      }).catch(() => undefined);
      if (!verified?.verified) return { ok: false, reason: 'not-verified' };
      if (!(await factors.usePasskey(passkey.id, verified.authenticationInfo.newCounter))) return { ok: false, reason: 'replayed' };
      return { ok: true, passkey };
    },
  };
}

export type Passkeys = ReturnType<typeof createPasskeys>;
