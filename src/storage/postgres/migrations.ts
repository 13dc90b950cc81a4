import type { ClientBase } from 'pg';

/**
 * Ordered schema changes. Never edit a shipped entry: append a new one. Times are epoch
 * milliseconds (BIGINT); payloads and other structured values are `json` (kept as written: unlike
 * `jsonb` it takes every string JSON can hold, "\u0000" included).
 */
export const migrations: string[] = [
  `
  CREATE TABLE oidc_records (
    model       TEXT NOT NULL,
    id          TEXT NOT NULL,
    payload     JSON NOT NULL,
    grant_id    TEXT,
    user_code   TEXT,
    uid         TEXT,
    account_id  TEXT,
    expires_at  BIGINT,
    consumed_at BIGINT,
    PRIMARY KEY (model, id)
  );
  CREATE INDEX oidc_records_grant ON oidc_records (grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX oidc_records_uid ON oidc_records (model, uid) WHERE uid IS NOT NULL;
  CREATE INDEX oidc_records_user_code ON oidc_records (model, user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX oidc_records_account ON oidc_records (model, account_id) WHERE account_id IS NOT NULL;
  CREATE INDEX oidc_records_expiry ON oidc_records (expires_at) WHERE expires_at IS NOT NULL;

  CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL,
    username_norm  TEXT NOT NULL UNIQUE,
    email          TEXT,
    email_norm     TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT,
    password_hash  TEXT NOT NULL,
    claims         JSON NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
  );
  -- Every name an account logs in with (its username and email, normalised), unique across
  -- accounts: a login string names one account, and two sign-ups at once cannot both take a name.
  CREATE TABLE account_logins (
    login      TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('username', 'email'))
  );
  CREATE INDEX account_logins_account ON account_logins (account_id);

  CREATE TABLE clients (
    client_id  TEXT PRIMARY KEY,
    metadata   JSON NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX clients_created ON clients (created_at, client_id);

  CREATE TABLE apis (
    audience         TEXT PRIMARY KEY,
    name             TEXT,
    scopes           JSON NOT NULL,
    token_format     TEXT NOT NULL,
    access_token_ttl INTEGER,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
  );

  CREATE TABLE keys (
    kid        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    material   JSON NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    expires_at BIGINT
  );
  CREATE INDEX keys_kind ON keys (kind, created_at);

  CREATE TABLE counters (
    key        TEXT PRIMARY KEY,
    state      JSON NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX counters_expiry ON counters (expires_at);

  CREATE TABLE consents (
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    claims     JSON NOT NULL,
    resources  JSON NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
  );

  CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    counter      BIGINT NOT NULL,
    transports   JSON NOT NULL,
    device_type  TEXT NOT NULL,
    backed_up    BOOLEAN NOT NULL,
    aaguid       TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
  );
  CREATE INDEX passkeys_account ON passkeys (account_id, created_at);
  CREATE TABLE totp_secrets (
    account_id TEXT PRIMARY KEY,
    material   JSON NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (account_id, hash)
  );

  CREATE TABLE upstreams (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    preset                 TEXT NOT NULL,
    issuer                 TEXT NOT NULL,
    client_id              TEXT NOT NULL,
    secrets                JSON NOT NULL,
    scope                  TEXT NOT NULL,
    button_label           TEXT,
    link_by_verified_email BOOLEAN NOT NULL,
    jit                    BOOLEAN NOT NULL,
    claim_map              JSON NOT NULL,
    settings               JSON NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
  );
  CREATE TABLE upstream_links (
    upstream_id  TEXT NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (upstream_id, subject)
  );
  CREATE INDEX upstream_links_account ON upstream_links (account_id, created_at);
  `,
  // Every write to the tables processes cache (change-feed.ts) is announced on idport_changes,
  // whoever makes it (any node, the CLI, psql); delivered when its transaction commits.
  `
  CREATE FUNCTION idport_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('idport_changes', TG_TABLE_NAME);
    RETURN NULL;
  END $$;
  ${['clients', 'accounts', 'apis']
    .map((table) => `CREATE TRIGGER ${table}_announced AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
    FOR EACH STATEMENT EXECUTE FUNCTION idport_announce_change();`)
    .join('\n  ')}
  `,
  // Initial access tokens for dynamic client registration (only their hashes).
  `
  CREATE TABLE registration_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    max_uses   INTEGER,
    used       INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX registration_tokens_expiry ON registration_tokens (expires_at);
  `,
  // Pages of accounts (the admin API's user list) in code point order whatever the database's
  // collation: the UNIQUE index on username_norm sorts by that collation, which may not be "C".
  `
  CREATE INDEX accounts_page_order ON accounts (username_norm COLLATE "C", id COLLATE "C");
  `,
];

/** The session-level advisory lock every idport node takes around its migrations ("idport:migrate"). */
export const migrationLockKey = 0x1d_90_57_01;

/**
 * Applies the migrations not applied yet, up to `target` (all by default; tests stop earlier), on
 * a connection of its own. Nodes starting at once take turns: each holds a session advisory lock
 * while it reads the version and migrates, so the next one finds the work done. Each migration is
 * one transaction (PostgreSQL's DDL is transactional): a failed one leaves no half-made schema.
 * Returns how many were applied.
 */
export async function migrate(client: ClientBase, target = migrations.length): Promise<number> {
  // waiting for the lock (another node's migration) and the migrations themselves may take longer
  // than the statement timeout meant for requests
  await client.query('SET statement_timeout = 0');
  await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
  try {
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    for (let i = current; i < target; i += 1) {
      await client.query('BEGIN');
      try {
        await client.query(migrations[i]!);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [i + 1, Date.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
    return Math.max(0, target - current);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]).catch(() => undefined);
  }
}
