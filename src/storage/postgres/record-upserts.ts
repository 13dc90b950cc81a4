import type { Db } from './db.js';
import { isOutage } from './outage.js';
import { keyOf } from './record-lookups.js';
import { turnQueue } from '../turn-queue.js';

/** One record's values, in the order of `upsertColumns` (and of the single upsert's parameters). */
export type UpsertValues = [
  model: string,
  id: string,
  payload: string,
  grantId: string | null,
  userCode: string | null,
  uid: string | null,
  accountId: string | null,
  expiresAt: number | null,
];

const upsertColumns = 'model, id, payload, grant_id, user_code, uid, account_id, expires_at';

// A re-save keeps consumed_at, as in SQLite: saving a consumed code again does not revive it.
const onConflict = `
  ON CONFLICT (model, id) DO UPDATE SET
    payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
    uid = excluded.uid, account_id = excluded.account_id, expires_at = excluded.expires_at`;

/** One record. */
const upsertOne = `
  INSERT INTO oidc_records (${upsertColumns}, consumed_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)${onConflict}`;

/** Many records (no key twice: ON CONFLICT may not change one row twice in a statement). */
const upsertMany = `
  INSERT INTO oidc_records (${upsertColumns}, consumed_at)
  SELECT ${upsertColumns}, NULL
  FROM unnest($1::text[], $2::text[], $3::json[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
    AS t(${upsertColumns})${onConflict}`;

interface Pending {
  values: UpsertValues;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Every record saved in one event-loop turn, as one statement (one round trip, one commit): the
 * token endpoint's writes of concurrent requests. Each caller's promise settles after that
 * statement has committed, as a single upsert's would. Of two saves of one key in a turn the later
 * one is written, as if they had run in turn. If the statement fails for a reason other than an
 * outage, each record is saved alone, so one bad record fails only its own callers.
 */
export function createRecordUpserts(db: Db) {
  const enqueue = turnQueue<Pending>(async (batch) => {
    const byKey = new Map<string, { values: UpsertValues; callers: Pending[] }>();
    for (const p of batch) {
      const key = keyOf(p.values[0], p.values[1]);
      const entry = byKey.get(key);
      if (entry) {
        entry.values = p.values;
        entry.callers.push(p);
      } else {
        byKey.set(key, { values: p.values, callers: [p] });
      }
    }
    const entries = [...byKey.values()];
    const settle = (callers: Pending[], err?: unknown) => {
      for (const p of callers) {
        if (err === undefined) p.resolve();
        else p.reject(err);
      }
    };
    if (entries.length === 1) {
      await db.query(upsertOne, entries[0]!.values).then(() => settle(batch), (err: unknown) => settle(batch, err));
      return;
    }
    try {
      await db.query(upsertMany, entries[0]!.values.map((_, column) => entries.map((e) => e.values[column])));
      settle(batch);
    } catch (err) {
      if (isOutage(err)) {
        settle(batch, err);
        return;
      }
      await Promise.all(entries.map((e) => db.query(upsertOne, e.values).then(() => settle(e.callers), (failed: unknown) => settle(e.callers, failed))));
    }
  });

  /** Saves one record; settles once the turn's statement has committed. */
  return (values: UpsertValues) => new Promise<void>((resolve, reject) => enqueue({ values, resolve, reject }));
}
