import type { Database } from 'better-sqlite3';

import { DuplicateError, type FactorStore, type PasskeyRecord } from '../types.js';

interface PasskeyRow {
  id: string;
  account_id: string;
  public_key: string;
  counter: number;
  transports: string;
  device_type: PasskeyRecord['deviceType'];
  backed_up: number;
  aaguid: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

const toPasskey = (row: PasskeyRow): PasskeyRecord => ({
  id: row.id,
  accountId: row.account_id,
  publicKey: row.public_key,
  counter: row.counter,
  transports: JSON.parse(row.transports) as string[],
  deviceType: row.device_type,
  backedUp: row.backed_up === 1,
  aaguid: row.aaguid,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

export function createSqliteFactors(db: Database, now: () => number): FactorStore {
  const stmts = {
    addPasskey: db.prepare(`INSERT INTO passkeys (id, account_id, public_key, counter, transports, device_type, backed_up, aaguid, name, created_at, last_used_at)
      VALUES (@id, @accountId, @publicKey, @counter, @transports, @deviceType, @backedUp, @aaguid, @name, @now, NULL)`),
    findPasskey: db.prepare<[string], PasskeyRow>('SELECT * FROM passkeys WHERE id = ?'),
    listPasskeys: db.prepare<[string], PasskeyRow>('SELECT * FROM passkeys WHERE account_id = ? ORDER BY created_at, id'),
    renamePasskey: db.prepare('UPDATE passkeys SET name = ? WHERE account_id = ? AND id = ?'),
    removePasskey: db.prepare('DELETE FROM passkeys WHERE account_id = ? AND id = ?'),
    // One statement: the counter check and the write cannot be split by another sign-in.
    usePasskey: db.prepare('UPDATE passkeys SET counter = @counter, last_used_at = @now WHERE id = @id AND (counter < @counter OR (counter = 0 AND @counter = 0))'),
    setTotp: db.prepare(`INSERT INTO totp_secrets (account_id, material, created_at) VALUES (?, ?, ?)
      ON CONFLICT (account_id) DO UPDATE SET material = excluded.material, created_at = excluded.created_at`),
    getTotp: db.prepare<[string], { material: string; created_at: number }>('SELECT material, created_at FROM totp_secrets WHERE account_id = ?'),
    removeTotp: db.prepare('DELETE FROM totp_secrets WHERE account_id = ?'),
    clearCodes: db.prepare('DELETE FROM recovery_codes WHERE account_id = ?'),
    addCode: db.prepare('INSERT OR IGNORE INTO recovery_codes (account_id, hash) VALUES (?, ?)'),
    useCode: db.prepare('DELETE FROM recovery_codes WHERE account_id = ? AND hash = ?'),
    countCodes: db.prepare<[string], number>('SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?').pluck(),
    removePasskeys: db.prepare('DELETE FROM passkeys WHERE account_id = ?'),
  };
  const setCodes = db.transaction((accountId: string, hashes: string[]) => {
    stmts.clearCodes.run(accountId);
    for (const hash of hashes) stmts.addCode.run(accountId, hash);
  });
  const removeAll = db.transaction((accountId: string) => {
    stmts.removePasskeys.run(accountId);
    stmts.removeTotp.run(accountId);
    stmts.clearCodes.run(accountId);
  });

  return {
    async addPasskey(passkey) {
      try {
        stmts.addPasskey.run({ ...passkey, transports: JSON.stringify(passkey.transports), backedUp: passkey.backedUp ? 1 : 0, now: now() });
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateError('passkey');
        throw err;
      }
    },
    async findPasskey(id) {
      const row = stmts.findPasskey.get(id);
      return row && toPasskey(row);
    },
    async listPasskeys(accountId) {
      return stmts.listPasskeys.all(accountId).map(toPasskey);
    },
    async renamePasskey(accountId, id, name) {
      return stmts.renamePasskey.run(name, accountId, id).changes === 1;
    },
    async removePasskey(accountId, id) {
      return stmts.removePasskey.run(accountId, id).changes === 1;
    },
    async usePasskey(id, counter) {
      return stmts.usePasskey.run({ id, counter, now: now() }).changes === 1;
    },
    async setTotp(accountId, material) {
      stmts.setTotp.run(accountId, JSON.stringify(material), now());
    },
    async getTotp(accountId) {
      const row = stmts.getTotp.get(accountId);
      return row && { accountId, material: JSON.parse(row.material) as Record<string, unknown>, createdAt: row.created_at };
    },
    async removeTotp(accountId) {
      return stmts.removeTotp.run(accountId).changes === 1;
    },
    async setRecoveryCodes(accountId, hashes) {
      setCodes.immediate(accountId, hashes);
    },
    async useRecoveryCode(accountId, hash) {
      return stmts.useCode.run(accountId, hash).changes === 1;
    },
    async countRecoveryCodes(accountId) {
      return stmts.countCodes.get(accountId) ?? 0;
    },
    async removeAll(accountId) {
      removeAll.immediate(accountId);
    },
  };
}
