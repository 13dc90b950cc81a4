import type { Database } from 'better-sqlite3';

import { DuplicateError, type UpstreamLinkRecord, type UpstreamLinkStore, type UpstreamRecord, type UpstreamStore } from '../types.js';

interface UpstreamRow {
  id: string;
  name: string;
  preset: UpstreamRecord['preset'];
  issuer: string;
  client_id: string;
  secrets: string;
  scope: string;
  button_label: string | null;
  link_by_verified_email: number;
  jit: number;
  claim_map: string;
  settings: string;
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
  secrets: JSON.parse(row.secrets) as Record<string, unknown>,
  scope: row.scope,
  buttonLabel: row.button_label,
  linkByVerifiedEmail: row.link_by_verified_email === 1,
  jit: row.jit === 1,
  claimMap: JSON.parse(row.claim_map) as Record<string, string>,
  settings: JSON.parse(row.settings) as Record<string, string>,
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

export function createSqliteUpstreams(db: Database, now: () => number): UpstreamStore {
  const stmts = {
    upsert: db.prepare(`
      INSERT INTO upstreams (id, name, preset, issuer, client_id, secrets, scope, button_label, link_by_verified_email, jit, claim_map, settings, created_at, updated_at)
      VALUES (@id, @name, @preset, @issuer, @clientId, @secrets, @scope, @buttonLabel, @linkByVerifiedEmail, @jit, @claimMap, @settings, @now, @now)
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, preset = excluded.preset, issuer = excluded.issuer,
        client_id = excluded.client_id, secrets = excluded.secrets, scope = excluded.scope, button_label = excluded.button_label,
        link_by_verified_email = excluded.link_by_verified_email, jit = excluded.jit, claim_map = excluded.claim_map,
        settings = excluded.settings, updated_at = excluded.updated_at`),
    find: db.prepare('SELECT * FROM upstreams WHERE id = ?'),
    list: db.prepare('SELECT * FROM upstreams ORDER BY id'),
    remove: db.prepare('DELETE FROM upstreams WHERE id = ?'),
  };
  return {
    async upsert(u) {
      stmts.upsert.run({
        ...u,
        secrets: JSON.stringify(u.secrets),
        linkByVerifiedEmail: u.linkByVerifiedEmail ? 1 : 0,
        jit: u.jit ? 1 : 0,
        claimMap: JSON.stringify(u.claimMap),
        settings: JSON.stringify(u.settings),
        now: now(),
      });
    },
    async find(id) {
      const row = stmts.find.get(id) as UpstreamRow | undefined;
      return row && toUpstream(row);
    },
    async list() {
      return (stmts.list.all() as UpstreamRow[]).map(toUpstream);
    },
    // links go with it (ON DELETE CASCADE)
    async remove(id) {
      return stmts.remove.run(id).changes === 1;
    },
  };
}

export function createSqliteUpstreamLinks(db: Database, now: () => number): UpstreamLinkStore {
  const stmts = {
    link: db.prepare('INSERT INTO upstream_links (upstream_id, subject, account_id, created_at) VALUES (?, ?, ?, ?)'),
    find: db.prepare('SELECT * FROM upstream_links WHERE upstream_id = ? AND subject = ?'),
    byAccount: db.prepare('SELECT * FROM upstream_links WHERE account_id = ? ORDER BY created_at, upstream_id, subject'),
    touch: db.prepare('UPDATE upstream_links SET last_used_at = ? WHERE upstream_id = ? AND subject = ?'),
    unlink: db.prepare('DELETE FROM upstream_links WHERE account_id = ? AND upstream_id = ? AND subject = ?'),
    removeAccount: db.prepare('DELETE FROM upstream_links WHERE account_id = ?'),
  };
  return {
    async link(upstreamId, subject, accountId) {
      try {
        stmts.link.run(upstreamId, subject, accountId, now());
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateError('subject');
        throw err;
      }
    },
    async find(upstreamId, subject) {
      const row = stmts.find.get(upstreamId, subject) as LinkRow | undefined;
      return row && toLink(row);
    },
    async listByAccount(accountId) {
      return (stmts.byAccount.all(accountId) as LinkRow[]).map(toLink);
    },
    async touch(upstreamId, subject) {
      stmts.touch.run(now(), upstreamId, subject);
    },
    async unlink(accountId, upstreamId, subject) {
      return stmts.unlink.run(accountId, upstreamId, subject).changes === 1;
    },
    async removeAccount(accountId) {
      return stmts.removeAccount.run(accountId).changes;
    },
  };
}
