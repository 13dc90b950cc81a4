import type { ConsentRecord, ConsentStore } from '../types.js';
import type { Db } from './db.js';

interface Row {
  account_id: string;
  client_id: string;
  scope: string;
  claims: string[];
  resources: Record<string, string>;
  updated_at: number;
}

const toConsent = (row: Row): ConsentRecord => ({
  accountId: row.account_id,
  clientId: row.client_id,
  scope: row.scope,
  claims: row.claims,
  resources: row.resources,
  updatedAt: row.updated_at,
});

const sql = {
  remember: `INSERT INTO consents (account_id, client_id, scope, claims, resources, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (account_id, client_id) DO UPDATE SET scope = excluded.scope, claims = excluded.claims,
      resources = excluded.resources, updated_at = excluded.updated_at`,
  find: 'SELECT * FROM consents WHERE account_id = $1 AND client_id = $2',
  listByAccount: 'SELECT * FROM consents WHERE account_id = $1 ORDER BY updated_at DESC, client_id COLLATE "C"',
  forget: 'DELETE FROM consents WHERE account_id = $1 AND client_id = $2',
  forgetAccount: 'DELETE FROM consents WHERE account_id = $1',
};

export function createPgConsents(db: Db, now: () => number): ConsentStore {
  return {
    async remember(consent) {
      await db.query(sql.remember, [consent.accountId, consent.clientId, consent.scope, JSON.stringify(consent.claims), JSON.stringify(consent.resources), now()]);
    },
    async find(accountId, clientId) {
      const row = (await db.query<Row>(sql.find, [accountId, clientId])).rows[0];
      return row && toConsent(row);
    },
    async listByAccount(accountId) {
      return (await db.query<Row>(sql.listByAccount, [accountId])).rows.map(toConsent);
    },
    async forget(accountId, clientId) {
      return (await db.query(sql.forget, [accountId, clientId])).rowCount === 1;
    },
    async forgetAccount(accountId) {
      return (await db.query(sql.forgetAccount, [accountId])).rowCount;
    },
  };
}
