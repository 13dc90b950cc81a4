import { DuplicateError, type FactorStore, type PasskeyRecord } from '../types.js';
import { isPgKey, uniqueViolation, type Db } from './db.js';

interface PasskeyRow {
  id: string;
  account_id: string;
  public_key: string;
  counter: number;
  transports: string[];
  device_type: PasskeyRecord['deviceType'];
  backed_up: boolean;
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
  transports: row.transports,
  deviceType: row.device_type,
  backedUp: row.backed_up,
  aaguid: row.aaguid,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

const sql = {
  addPasskey: `INSERT INTO passkeys (id, account_id, public_key, counter, transports, device_type, backed_up, aaguid, name, created_at, last_used_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)`,
  findPasskey: 'SELECT * FROM passkeys WHERE id = $1',
  listPasskeys: 'SELECT * FROM passkeys WHERE account_id = $1 ORDER BY created_at, id COLLATE "C"',
  renamePasskey: 'UPDATE passkeys SET name = $1 WHERE account_id = $2 AND id = $3',
  removePasskey: 'DELETE FROM passkeys WHERE account_id = $1 AND id = $2',
  // One statement: the counter check and the write cannot be split by another sign-in.
  usePasskey: 'UPDATE passkeys SET counter = $2, last_used_at = $3 WHERE id = $1 AND (counter < $2 OR (counter = 0 AND $2 = 0))',
  setTotp: `INSERT INTO totp_secrets (account_id, material, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (account_id) DO UPDATE SET material = excluded.material, created_at = excluded.created_at`,
  getTotp: 'SELECT material, created_at FROM totp_secrets WHERE account_id = $1',
  removeTotp: 'DELETE FROM totp_secrets WHERE account_id = $1',
  clearCodes: 'DELETE FROM recovery_codes WHERE account_id = $1',
  addCodes: 'INSERT INTO recovery_codes (account_id, hash) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING',
  useCode: 'DELETE FROM recovery_codes WHERE account_id = $1 AND hash = $2',
  countCodes: 'SELECT COUNT(*)::int AS n FROM recovery_codes WHERE account_id = $1',
  removePasskeys: 'DELETE FROM passkeys WHERE account_id = $1',
};

export function createPgFactors(db: Db, now: () => number): FactorStore {
  return {
    async addPasskey(p) {
      try {
        await db.query(sql.addPasskey, [p.id, p.accountId, p.publicKey, p.counter, JSON.stringify(p.transports), p.deviceType, p.backedUp, p.aaguid, p.name, now()]);
      } catch (err) {
        if (uniqueViolation(err) === 'passkeys_pkey') throw new DuplicateError('passkey');
        throw err;
      }
    },
    async findPasskey(id) {
      if (!isPgKey(id)) return undefined;
      const row = (await db.query<PasskeyRow>(sql.findPasskey, [id])).rows[0];
      return row && toPasskey(row);
    },
    async listPasskeys(accountId) {
      return (await db.query<PasskeyRow>(sql.listPasskeys, [accountId])).rows.map(toPasskey);
    },
    async renamePasskey(accountId, id, name) {
      return isPgKey(id) && (await db.query(sql.renamePasskey, [name, accountId, id])).rowCount === 1;
    },
    async removePasskey(accountId, id) {
      return isPgKey(id) && (await db.query(sql.removePasskey, [accountId, id])).rowCount === 1;
    },
    async usePasskey(id, counter) {
      return isPgKey(id) && (await db.query(sql.usePasskey, [id, counter, now()])).rowCount === 1;
    },
    async setTotp(accountId, material) {
      await db.query(sql.setTotp, [accountId, JSON.stringify(material), now()]);
    },
    async getTotp(accountId) {
      const row = (await db.query<{ material: Record<string, unknown>; created_at: number }>(sql.getTotp, [accountId])).rows[0];
      return row && { accountId, material: row.material, createdAt: row.created_at };
    },
    async removeTotp(accountId) {
      return (await db.query(sql.removeTotp, [accountId])).rowCount === 1;
    },
    async setRecoveryCodes(accountId, hashes) {
      await db.tx(async (client) => {
        await client.query(sql.clearCodes, [accountId]);
        if (hashes.length) await client.query(sql.addCodes, [accountId, hashes]);
      });
    },
    async useRecoveryCode(accountId, hash) {
      return isPgKey(hash) && (await db.query(sql.useCode, [accountId, hash])).rowCount === 1;
    },
    async countRecoveryCodes(accountId) {
      return (await db.query<{ n: number }>(sql.countCodes, [accountId])).rows[0]?.n ?? 0;
    },
    async removeAll(accountId) {
      await db.tx(async (client) => {
        await client.query(sql.removePasskeys, [accountId]);
        await client.query(sql.removeTotp, [accountId]);
        await client.query(sql.clearCodes, [accountId]);
      });
    },
  };
}
