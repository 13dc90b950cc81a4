import type { Database } from 'better-sqlite3';

import type { ConsentRecord, ConsentStore } from '../types.js';

interface Row {
  account_id: string;
  client_id: string;
  scope: string;
  claims: string;
  resources: string;
  updated_at: number;
}

const toConsent = (row: Row): ConsentRecord => ({
  accountId: row.account_id,
  clientId: row.client_id,
  scope: row.scope,
  claims: JSON.parse(row.claims) as string[],
  resources: JSON.parse(row.resources) as Record<string, string>,
  updatedAt: row.updated_at,
});

export function createSqliteConsents(db: Database, now: () => number): ConsentStore {
  const stmts = {
    remember: db.prepare(`
      INSERT INTO consents (account_id, client_id, scope, claims, resources, updated_at)
      VALUES (@accountId, @clientId, @scope, @claims, @resources, @now)
      ON CONFLICT (account_id, client_id) DO UPDATE SET scope = excluded.scope, claims = excluded.claims,
        resources = excluded.resources, updated_at = excluded.updated_at`),
    find: db.prepare<[string, string], Row>('SELECT * FROM consents WHERE account_id = ? AND client_id = ?'),
    listByAccount: db.prepare<[string], Row>('SELECT * FROM consents WHERE account_id = ? ORDER BY updated_at DESC, client_id'),
    forget: db.prepare('DELETE FROM consents WHERE account_id = ? AND client_id = ?'),
    forgetAccount: db.prepare('DELETE FROM consents WHERE account_id = ?'),
  };
  return {
    async remember(consent) {
      stmts.remember.run({
        ...consent,
        claims: JSON.stringify(consent.claims),
        resources: JSON.stringify(consent.resources),
        now: now(),
      });
    },
    async find(accountId, clientId) {
      const row = stmts.find.get(accountId, clientId);
      return row && toConsent(row);
    },
    async listByAccount(accountId) {
      return stmts.listByAccount.all(accountId).map(toConsent);
    },
    async forget(accountId, clientId) {
      return stmts.forget.run(accountId, clientId).changes === 1;
    },
    async forgetAccount(accountId) {
      return stmts.forgetAccount.run(accountId).changes;
    },
  };
}
