import { createHash } from 'node:crypto';

import { seal, unseal } from '../keys/key-encryption.js';
import type { CounterStore, FactorStore, PasskeyRecord } from '../storage/types.js';
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes } from './recovery-codes.js';
import { base32Decode, matchTotp, newTotpSecret, otpauthUri, totpPeriodSeconds } from './totp.js';

export class FactorError extends Error {
  readonly code = 'ERR_FACTOR';
}

/** What an account has besides its password (never a secret). */
export interface FactorSummary {
  passkeys: Pick<PasskeyRecord, 'id' | 'name' | 'createdAt' | 'lastUsedAt' | 'deviceType'>[];
  totp: boolean;
  /** epoch ms the authenticator app was set up (null without one) */
  totpCreatedAt: number | null;
  recoveryCodesLeft: number;
}

/** The id the authenticator app goes by among an account's factors. */
export const totpFactorId = 'totp';

/**
 * The id a passkey goes by where operators see it: derived from its credential id, which itself
 * is not shown (an authenticator's handle for the user, not ours to hand around).
 */
export const passkeyFactorId = (credentialId: string): string => createHash('sha256').update(`idport-passkey:${credentialId}`).digest('base64url').slice(0, 22);

export interface FactorDeps {
  factors: FactorStore;
  counters: CounterStore;
  /** seals TOTP secrets at rest, like private keys (IDPORT_KEK) */
  kek?: Uint8Array | undefined;
  /** the product name authenticator apps show */
  issuerName: string;
  now?: () => number;
}

/**
 * Second factors and passkeys of accounts: TOTP (RFC 6238) with single-use codes across nodes,
 * recovery codes stored hashed, and the passkey list. The WebAuthn ceremonies are in passkeys.ts.
 */
export function createFactorService({ factors, counters, kek, issuerName, now = Date.now }: FactorDeps) {
  const totpSecret = async (accountId: string) => {
    const stored = await factors.getTotp(accountId);
    return stored && base32Decode(String((await unseal(stored.material, kek)).secret));
  };

  /** Claims a TOTP step for the account: true once (a replayed code is refused, on any node). */
  const claimStep = async (accountId: string, step: number) => {
    let fresh = false;
    await counters.update(`totp-used:${accountId}:${step}`, (current, at) => {
      fresh = current === undefined;
      return current ?? { state: { used: 1 }, expiresAt: at + 3 * totpPeriodSeconds * 1000 };
    });
    return fresh;
  };

  return {
    async summary(accountId: string): Promise<FactorSummary> {
      const [passkeys, totp, recoveryCodesLeft] = await Promise.all([factors.listPasskeys(accountId), factors.getTotp(accountId), factors.countRecoveryCodes(accountId)]);
      return {
        passkeys: passkeys.map(({ id, name, createdAt, lastUsedAt, deviceType }) => ({ id, name, createdAt, lastUsedAt, deviceType })),
        totp: totp !== undefined,
        totpCreatedAt: totp?.createdAt ?? null,
        recoveryCodesLeft,
      };
    },

    /** Whether a password sign-in must be followed by a second factor: the account has one. */
    async hasSecondFactor(accountId: string): Promise<boolean> {
      const [totp, passkeys] = await Promise.all([factors.getTotp(accountId), factors.listPasskeys(accountId)]);
      return totp !== undefined || passkeys.length > 0;
    },

    /** A new TOTP secret to show (not stored until confirmed with a code). */
    newTotp(accountName: string) {
      const secret = newTotpSecret();
      return { secret, uri: otpauthUri({ issuer: issuerName, account: accountName, secret }) };
    },

    /**
     * Stores `secret` as the account's TOTP secret once `code` shows the user's app has it. Returns
     * new recovery codes (shown once) when the account had none.
     */
    async confirmTotp(accountId: string, secret: string, code: string): Promise<string[] | undefined> {
      const bytes = base32Decode(secret);
      if (!bytes || bytes.length < 16) throw new FactorError('the secret is not valid');
      const step = matchTotp(bytes, code, now());
      if (step === undefined || !(await claimStep(accountId, step))) throw new FactorError('the code does not match; check the time on your device and try again');
      await factors.setTotp(accountId, await seal({ secret }, kek));
      if ((await factors.countRecoveryCodes(accountId)) > 0) return undefined;
      return this.newRecoveryCodes(accountId);
    },

    removeTotp: (accountId: string) => factors.removeTotp(accountId),

    /** Replaces the account's recovery codes; the new ones are returned once and stored hashed. */
    async newRecoveryCodes(accountId: string): Promise<string[]> {
      const { codes, hashes } = newRecoveryCodes();
      await factors.setRecoveryCodes(accountId, hashes);
      return codes;
    },

    /**
     * Checks a second-factor code: a TOTP code (single use) or a recovery code (used up).
     * Returns which it was, or undefined when it is neither.
     */
    async verifyCode(accountId: string, code: string): Promise<'totp' | 'recovery' | undefined> {
      if (looksLikeRecoveryCode(code)) return (await factors.useRecoveryCode(accountId, hashRecoveryCode(code))) ? 'recovery' : undefined;
      const secret = await totpSecret(accountId);
      const step = secret ? matchTotp(secret, code, now()) : undefined;
      return step !== undefined && (await claimStep(accountId, step)) ? 'totp' : undefined;
    },

    renamePasskey: (accountId: string, id: string, name: string) => factors.renamePasskey(accountId, id, name),

    /**
     * Removes a passkey, unless it is the account's last way to sign in (an account without a
     * password signs in with passkeys only).
     */
    async removePasskey(accountId: string, id: string, { hasPassword }: { hasPassword: boolean }): Promise<boolean> {
      const passkeys = await factors.listPasskeys(accountId);
      if (!hasPassword && passkeys.length <= 1) throw new FactorError('this is your last way to sign in; add another before removing it');
      return factors.removePasskey(accountId, id);
    },

    /**
     * Removes one factor by the id operators see (passkeyFactorId, or totpFactorId), as the
     * account's own page would: a passkey only if it is not the last way in (FactorError). Which
     * kind it was, or undefined when the account has no such factor (another account's is not looked at).
     */
    async removeFactor(accountId: string, factorId: string, { hasPassword }: { hasPassword: boolean }): Promise<'passkey' | 'totp' | undefined> {
      if (factorId === totpFactorId) return (await this.removeTotp(accountId)) ? 'totp' : undefined;
      const passkey = (await factors.listPasskeys(accountId)).find((p) => passkeyFactorId(p.id) === factorId);
      if (!passkey) return undefined;
      return (await this.removePasskey(accountId, passkey.id, { hasPassword })) ? 'passkey' : undefined;
    },

    /** Removes every factor of the account (admin reset, account removal). */
    removeAll: (accountId: string) => factors.removeAll(accountId),
  };
}

export type FactorService = ReturnType<typeof createFactorService>;
