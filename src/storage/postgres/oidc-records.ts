import { boundKeys } from '../bound-keys.js';
import type { OidcModelStore, OidcPayload } from '../types.js';
import { isPgKey, type Db } from './db.js';
import { createRecordLookups, payloadOf, type RecordRow } from './record-lookups.js';
import { createRecordUpserts } from './record-upserts.js';

/** Models whose records are found by account (findByAccount). */
const accountBound = new Set(['Session', 'Grant']);

/** How many expired rows one sweep statement deletes: each batch is its own short transaction. */
export const sweepBatch = 500;

const notExpired = '(expires_at IS NULL OR expires_at > $3)';

/** pg parses each `json` value anew: the payload is a fresh object the caller may change. */
const toPayload = (rows: RecordRow[]): OidcPayload | undefined => (rows[0] ? payloadOf(rows[0]) : undefined);

const lookup = (where: string) => `SELECT payload, consumed_at FROM oidc_records WHERE model = $1 AND ${where} AND ${notExpired} LIMIT 1`;

/** A record's payload and consumed_at under a prefix (`grant_`, `session_`), NULLs when absent. */
const boundRow = (row: Record<string, unknown>, prefix: string): RecordRow | undefined =>
  row[`${prefix}payload`] === null ? undefined : { payload: row[`${prefix}payload`] as OidcPayload, consumed_at: row[`${prefix}consumed_at`] as number | null };

const sql = {
  findByUid: lookup('uid = $2'),
  // The token, its grant and its session (boundKeys: only when it expires with it) in one statement,
  // so from one snapshot. The JavaScript side drops a bound key no lookup would take (isPgKey).
  findBound: `
    SELECT t.payload, t.consumed_at, g.payload AS grant_payload, g.consumed_at AS grant_consumed_at,
           s.payload AS session_payload, s.consumed_at AS session_consumed_at
    FROM oidc_records t
    LEFT JOIN LATERAL (
      SELECT payload, consumed_at FROM oidc_records
      WHERE model = 'Grant' AND id = t.payload->>'grantId' AND ${notExpired} LIMIT 1
    ) g ON true
    LEFT JOIN LATERAL (
      SELECT payload, consumed_at FROM oidc_records
      WHERE model = 'Session' AND uid = t.payload->>'sessionUid' AND t.payload->>'expiresWithSession' = 'true' AND ${notExpired} LIMIT 1
    ) s ON true
    WHERE t.model = $1 AND t.id = $2 AND (t.expires_at IS NULL OR t.expires_at > $3)`,
  findByUserCode: lookup('user_code = $2'),
  // One conditional UPDATE: of parallel callers (on any node) exactly one changes the row.
  consume: `UPDATE oidc_records SET consumed_at = $3 WHERE model = $1 AND id = $2 AND consumed_at IS NULL AND ${notExpired}`,
  destroy: 'DELETE FROM oidc_records WHERE model = $1 AND id = $2',
  revokeByGrantId: "DELETE FROM oidc_records WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)",
  findByAccount: `SELECT id, payload FROM oidc_records WHERE model = $1 AND account_id = $2 AND ${notExpired}`,
  // Small batches of rows nobody holds (SKIP LOCKED): a sweep never waits for, nor blocks, a sign-in.
  sweep: `
    DELETE FROM oidc_records r USING (
      SELECT model, id FROM oidc_records WHERE expires_at <= $1 LIMIT ${sweepBatch} FOR UPDATE SKIP LOCKED
    ) expired WHERE r.model = expired.model AND r.id = expired.id`,
};

const text = (value: unknown) => (typeof value === 'string' ? value : null);

export function createPgOidcRecords(db: Db, now: () => number) {
  const findById = createRecordLookups(db, now);
  const save = createRecordUpserts(db);
  const model = (name: string): OidcModelStore => ({
    upsert(id, payload, expiresIn) {
      return save([
        name,
        id,
        JSON.stringify(payload),
        text(payload.grantId),
        text(payload.userCode),
        text(payload.uid),
        accountBound.has(name) ? text(payload.accountId) : null,
        expiresIn ? now() + expiresIn * 1000 : null,
      ]);
    },
    // Values no store may look up (over 1,024 characters, or holding NUL) are simply not found.
    async find(id) {
      return isPgKey(id) ? findById(name, id) : undefined;
    },
    async findByUid(uid) {
      return isPgKey(uid) ? toPayload((await db.query<RecordRow>(sql.findByUid, [name, uid, now()])).rows) : undefined;
    },
    async findBound(id) {
      if (!isPgKey(id)) return undefined;
      const [row] = (await db.query<RecordRow & Record<string, unknown>>(sql.findBound, [name, id, now()])).rows;
      if (!row) return undefined;
      const token = payloadOf(row);
      const { grantId, sessionUid } = boundKeys(token);
      const grant = isPgKey(grantId) ? boundRow(row, 'grant_') : undefined;
      const session = isPgKey(sessionUid) ? boundRow(row, 'session_') : undefined;
      return { token, grant: grant && payloadOf(grant), session: session && payloadOf(session) };
    },
    async findByUserCode(userCode) {
      return isPgKey(userCode) ? toPayload((await db.query<RecordRow>(sql.findByUserCode, [name, userCode, now()])).rows) : undefined;
    },
    async consume(id) {
      return isPgKey(id) && (await db.query(sql.consume, [name, id, now()])).rowCount === 1;
    },
    async destroy(id) {
      if (isPgKey(id)) await db.query(sql.destroy, [name, id]);
    },
    async revokeByGrantId(grantId) {
      if (isPgKey(grantId)) await db.query(sql.revokeByGrantId, [grantId]);
    },
    async findByAccount(accountId) {
      if (!accountBound.has(name) || !isPgKey(accountId)) return [];
      const { rows } = await db.query<{ id: string; payload: OidcPayload }>(sql.findByAccount, [name, accountId, now()]);
      return rows;
    },
  });

  return {
    model,
    /** Deletes expired records, batch after batch, until a batch finds fewer than it may take. */
    async sweep(): Promise<number> {
      let total = 0;
      for (let i = 0; i < 1000; i += 1) {
        const { rowCount } = await db.query(sql.sweep, [now()]);
        total += rowCount;
        if (rowCount < sweepBatch) break;
      }
      return total;
    },
  };
}
