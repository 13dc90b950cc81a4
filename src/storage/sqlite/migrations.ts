import type { Database } from 'better-sqlite3';

/**
 * Ordered schema changes. Never edit a shipped entry: append a new one.
 * Times are epoch milliseconds.
 */
const migrations: string[] = [
  `
  CREATE TABLE oidc_records (
    model       TEXT NOT NULL,
    id          TEXT NOT NULL,
    payload     TEXT NOT NULL,
    grant_id    TEXT,
    user_code   TEXT,
    uid         TEXT,
    expires_at  INTEGER,
    consumed_at INTEGER,
    PRIMARY KEY (model, id)
  ) WITHOUT ROWID;
  CREATE INDEX oidc_records_grant ON oidc_records (grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX oidc_records_user_code ON oidc_records (model, user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX oidc_records_uid ON oidc_records (model, uid) WHERE uid IS NOT NULL;
  CREATE INDEX oidc_records_expiry ON oidc_records (expires_at) WHERE expires_at IS NOT NULL;

  CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL,
    username_norm  TEXT NOT NULL UNIQUE,
    email          TEXT,
    email_norm     TEXT UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT,
    password_hash  TEXT NOT NULL,
    claims         TEXT NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
  );

  CREATE TABLE clients (
    client_id  TEXT PRIMARY KEY,
    metadata   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE keys (
    kid        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    material   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    expires_at INTEGER
  );
  CREATE INDEX keys_kind ON keys (kind, created_at);
  `,
  // rate-limiter-flexible's RateLimiterSQLite layout; all limiters share it, keys are prefixed.
  `
  CREATE TABLE rate_limits (
    key    TEXT PRIMARY KEY,
    points INTEGER NOT NULL DEFAULT 0,
    expire INTEGER
  );
  CREATE INDEX rate_limits_expire ON rate_limits (expire);
  `,
  `
  CREATE TABLE apis (
    audience         TEXT PRIMARY KEY,
    name             TEXT,
    scopes           TEXT NOT NULL,
    token_format     TEXT NOT NULL,
    access_token_ttl INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
  );
  CREATE TABLE consents (
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    grant_id   TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
  ) WITHOUT ROWID;
  `,
  // Change counters for the rows each process caches (change-watch.ts): any write to these
  // tables, by any process or tool, moves its table's counter.
  `
  CREATE TABLE change_counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO change_counters (name, n) VALUES ('clients', 0), ('accounts', 0), ('apis', 0);
  ${['clients', 'accounts', 'apis']
    .flatMap((table) =>
      ['INSERT', 'UPDATE', 'DELETE'].map(
        (op) => `CREATE TRIGGER ${table}_${op.toLowerCase()}_counted AFTER ${op} ON ${table}
    BEGIN UPDATE change_counters SET n = n + 1 WHERE name = '${table}'; END;`,
      ),
    )
    .join('\n  ')}
  `,
  // Counters and locks (login guard, rate limits) replace rate-limiter-flexible's table; what it
  // counted is short-lived and starts over.
  `
  DROP TABLE rate_limits;
  CREATE TABLE counters (
    key        TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX counters_expiry ON counters (expires_at);
  `,
  // Sessions and grants are found by account (a password change ends them; removing an app's
  // access revokes every grant of that user and client).
  `
  ALTER TABLE oidc_records ADD COLUMN account_id TEXT;
  UPDATE oidc_records SET account_id = json_extract(payload, '$.accountId')
    WHERE model IN ('Session', 'Grant') AND json_type(payload, '$.accountId') = 'text';
  CREATE INDEX oidc_records_account ON oidc_records (model, account_id) WHERE account_id IS NOT NULL;
  `,
  // A remembered consent is what the user agreed to (scopes, claims, API scopes), no longer a
  // pointer to one shared grant: each sign-in gets a grant of its own. Consents whose grant is
  // still stored keep what it held.
  `
  CREATE TABLE consents_v2 (
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    claims     TEXT NOT NULL,
    resources  TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
  ) WITHOUT ROWID;
  INSERT INTO consents_v2 (account_id, client_id, scope, claims, resources, updated_at)
    SELECT c.account_id, c.client_id,
      COALESCE(json_extract(g.payload, '$.openid.scope'), ''),
      COALESCE(json_extract(g.payload, '$.openid.claims'), '[]'),
      COALESCE(json_extract(g.payload, '$.resources'), '{}'),
      c.updated_at
    FROM consents c JOIN oidc_records g ON g.model = 'Grant' AND g.id = c.grant_id;
  DROP TABLE consents;
  ALTER TABLE consents_v2 RENAME TO consents;
  `,
  // Passkeys, TOTP secrets and recovery codes (multi-factor sign-in).
  `
  CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    counter      INTEGER NOT NULL,
    transports   TEXT NOT NULL,
    device_type  TEXT NOT NULL,
    backed_up    INTEGER NOT NULL,
    aaguid       TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX passkeys_account ON passkeys (account_id, created_at);
  CREATE TABLE totp_secrets (
    account_id TEXT PRIMARY KEY,
    material   TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (account_id, hash)
  ) WITHOUT ROWID;
  `,
  // Upstream providers (sign-in with another provider) and accounts' links to them.
  `
  CREATE TABLE upstreams (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    preset                 TEXT NOT NULL,
    issuer                 TEXT NOT NULL,
    client_id              TEXT NOT NULL,
    secrets                TEXT NOT NULL,
    scope                  TEXT NOT NULL,
    button_label           TEXT,
    link_by_verified_email INTEGER NOT NULL,
    jit                    INTEGER NOT NULL,
    claim_map              TEXT NOT NULL,
    settings               TEXT NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE upstream_links (
    upstream_id  TEXT NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    PRIMARY KEY (upstream_id, subject)
  ) WITHOUT ROWID;
  CREATE INDEX upstream_links_account ON upstream_links (account_id, created_at);
  `,
  // Initial access tokens for dynamic client registration (only their hashes).
  `
  CREATE TABLE registration_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    max_uses   INTEGER,
    used       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX registration_tokens_expiry ON registration_tokens (expires_at);
  `,
  // oidc_records as a rowid table with a unique (model, id) index instead of WITHOUT ROWID. A
  // WITHOUT ROWID table keeps each whole row (a ~600-byte payload) in the primary key's b-tree, so
  // every token with a random id dirtied a full random leaf page, written to the WAL at commit;
  // now the random insert lands in a small index entry and the row appends (measured: 65 → 33 µs
  // of CPU per insert at 5 a transaction).
  `
  CREATE TABLE oidc_records_v2 (
    model       TEXT NOT NULL,
    id          TEXT NOT NULL,
    payload     TEXT NOT NULL,
    grant_id    TEXT,
    user_code   TEXT,
    uid         TEXT,
    expires_at  INTEGER,
    consumed_at INTEGER,
    account_id  TEXT
  );
  INSERT INTO oidc_records_v2 (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at, account_id)
    SELECT model, id, payload, grant_id, user_code, uid, expires_at, consumed_at, account_id FROM oidc_records;
  DROP TABLE oidc_records;
  ALTER TABLE oidc_records_v2 RENAME TO oidc_records;
  CREATE UNIQUE INDEX oidc_records_key ON oidc_records (model, id);
  CREATE INDEX oidc_records_grant ON oidc_records (grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX oidc_records_user_code ON oidc_records (model, user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX oidc_records_uid ON oidc_records (model, uid) WHERE uid IS NOT NULL;
  CREATE INDEX oidc_records_expiry ON oidc_records (expires_at) WHERE expires_at IS NOT NULL;
  CREATE INDEX oidc_records_account ON oidc_records (model, account_id) WHERE account_id IS NOT NULL;
  `,
  // Change counters for the oidc-provider records each process caches (change-watch.ts: tokens and
  // grants, read on every userinfo, introspection and refresh). A new record cannot be in any
  // cache, so only changes and deletions (revocation, consumption, a re-saved grant, the sweep)
  // move its model's counter.
  `
  INSERT INTO change_counters (name, n) VALUES
    ('oidc:AccessToken', 0), ('oidc:ClientCredentials', 0), ('oidc:RefreshToken', 0), ('oidc:Grant', 0);
  ${['UPDATE', 'DELETE']
    .map(
      (op) => `CREATE TRIGGER oidc_records_${op.toLowerCase()}_counted AFTER ${op} ON oidc_records
    WHEN OLD.model IN ('AccessToken', 'ClientCredentials', 'RefreshToken', 'Grant')
    BEGIN UPDATE change_counters SET n = n + 1 WHERE name = 'oidc:' || OLD.model; END;`,
    )
    .join('\n  ')}
  `,
];

/** Applies the migrations not applied yet, up to `target` (all by default; tests stop earlier). */
export function migrate(db: Database, target = migrations.length): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const apply = db.transaction(() => {
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    for (let i = current; i < target; i += 1) {
      db.exec(migrations[i]!);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(i + 1, Date.now());
    }
    return Math.max(0, target - current);
  });
  // IMMEDIATE takes the write lock first, so two processes starting at once migrate in turn.
  return apply.immediate();
}
