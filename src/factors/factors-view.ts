import { passkeyFactorId, type FactorSummary } from './factor-service.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * An account's factors as operators see them (`idport users show`, GET /admin/v1/users/{id}/factors):
 * ids, names and dates, never a secret, a public key or a credential id. A passkey's id here
 * (passkeyFactorId), or `totp` for the authenticator app, names the factor to remove.
 */
export const factorsView = (summary: FactorSummary) => ({
  passkeys: summary.passkeys.map((p) => ({
    id: passkeyFactorId(p.id),
    name: p.name,
    device_type: p.deviceType,
    created_at: iso(p.createdAt),
    last_used_at: iso(p.lastUsedAt),
  })),
  authenticator_app: summary.totp,
  authenticator_app_added_at: iso(summary.totpCreatedAt),
  recovery_codes_left: summary.recoveryCodesLeft,
});

export type FactorsView = ReturnType<typeof factorsView>;
