import { DuplicateError, type UpstreamLinkRecord, type UpstreamLinkStore, type UpstreamRecord, type UpstreamStore } from '../types.js';
import { isPgKey, uniqueViolation, type Db } from './db.js';

interface UpstreamRow {
  id: string;
  name: string;
  preset: UpstreamRecord['preset'];
  issuer: string;
  client_id: string;
  secrets: Record<string, unknown>;
  scope: string;
  button_label: string | null;
  link_by_verified_email: boolean;
  jit: boolean;
  claim_map: Record<string, string>;
  settings: Record<string, string>;
  created_at: number;
  updated_at: number;
}

interface LinkRow {
  upstream_id: string;
  subject: string;
  account_id: string;
  created_at: number;
  last_used_at: number | null;
}

const toUpstream = (row: UpstreamRow): UpstreamRecord => ({
  id: row.id,
  name: row.name,
  preset: row.preset,
  issuer: row.issuer,
  clientId: row.client_id,
  secrets: row.secrets,
  scope: row.scope,
  buttonLabel: row.button_label,
  linkByVerifiedEmail: row.link_by_verified_email,
  jit: row.jit,
  claimMap: row.claim_map,
  settings: row.settings,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toLink = (row: LinkRow): UpstreamLinkRecord => ({
  upstreamId: row.upstream_id,
  subject: row.subject,
  accountId: row.account_id,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

const sql = {
  upsert: `INSERT INTO upstreams (id, name, preset, issuer, client_id, secrets, scope, button_label, link_by_verified_email, jit, claim_map, settings, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, preset = excluded.preset, issuer = excluded.issuer,
      client_id = excluded.client_id, secrets = excluded.secrets, scope = excluded.scope, button_label = excluded.button_label,
      link_by_verified_email = excluded.link_by_verified_email, jit = excluded.jit, claim_map = excluded.claim_map,
      settings = excluded.settings, updated_at = excluded.updated_at`,
  find: 'SELECT * FROM upstreams WHERE id = $1',
  list: 'SELECT * FROM upstreams ORDER BY id COLLATE "C"',
  remove: 'DELETE FROM upstreams WHERE id = $1',
  link: 'INSERT INTO upstream_links (upstream_id, subject, account_id, created_at) VALUES ($1, $2, $3, $4)',
  findLink: 'SELECT * FROM upstream_links WHERE upstream_id = $1 AND subject = $2',
  byAccount: 'SELECT * FROM upstream_links WHERE account_id = $1 ORDER BY created_at, upstream_id COLLATE "C", subject COLLATE "C"',
  touch: 'UPDATE upstream_links SET last_used_at = $3 WHERE upstream_id = $1 AND subject = $2',
  unlink: 'DELETE FROM upstream_links WHERE account_id = $1 AND upstream_id = $2 AND subject = $3',
  removeAccount: 'DELETE FROM upstream_links WHERE account_id = $1',
};

export function createPgUpstreams(db: Db, now: () => number): UpstreamStore {
  return {
    async upsert(u) {
      await db.query(sql.upsert, [
        u.id, u.name, u.preset, u.issuer, u.clientId, JSON.stringify(u.secrets), u.scope, u.buttonLabel,
        u.linkByVerifiedEmail, u.jit, JSON.stringify(u.claimMap), JSON.stringify(u.settings), now(),
      ]);
    },
    async find(id) {
      if (!isPgKey(id)) return undefined;
      const row = (await db.query<UpstreamRow>(sql.find, [id])).rows[0];
      return row && toUpstream(row);
    },
    async list() {
      return (await db.query<UpstreamRow>(sql.list)).rows.map(toUpstream);
    },
    // links go with it (ON DELETE CASCADE)
    async remove(id) {
      return isPgKey(id) && (await db.query(sql.remove, [id])).rowCount === 1;
    },
  };
}

export function createPgUpstreamLinks(db: Db, now: () => number): UpstreamLinkStore {
  const valid = (...keys: string[]) => keys.every(isPgKey);
  return {
    async link(upstreamId, subject, accountId) {
      try {
        await db.query(sql.link, [upstreamId, subject, accountId, now()]);
      } catch (err) {
        if (uniqueViolation(err) === 'upstream_links_pkey') throw new DuplicateError('subject');
        throw err;
      }
    },
    async find(upstreamId, subject) {
      if (!valid(upstreamId, subject)) return undefined;
      const row = (await db.query<LinkRow>(sql.findLink, [upstreamId, subject])).rows[0];
      return row && toLink(row);
    },
    async listByAccount(accountId) {
      if (!valid(accountId)) return [];
      return (await db.query<LinkRow>(sql.byAccount, [accountId])).rows.map(toLink);
    },
    async touch(upstreamId, subject) {
      if (valid(upstreamId, subject)) await db.query(sql.touch, [upstreamId, subject, now()]);
    },
    async unlink(accountId, upstreamId, subject) {
      return valid(accountId, upstreamId, subject) && (await db.query(sql.unlink, [accountId, upstreamId, subject])).rowCount === 1;
    },
    async removeAccount(accountId) {
      return valid(accountId) ? (await db.query(sql.removeAccount, [accountId])).rowCount : 0;
    },
  };
}
