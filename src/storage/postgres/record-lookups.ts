import { copyJson } from '../copy-json.js';
import type { OidcPayload } from '../types.js';
import type { Db } from './db.js';
import { turnQueue } from '../turn-queue.js';

/** A stored record as pg returns it. */
export interface RecordRow {
  payload: OidcPayload;
  consumed_at: number | null;
}

/** The payload oidc-provider gets: `consumed` (seconds) from the row's consumed_at, when set. */
export const payloadOf = (row: RecordRow, payload = row.payload): OidcPayload => {
  if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at / 1000);
  return payload;
};

interface Row extends RecordRow {
  model: string;
  id: string;
}

interface Pending {
  model: string;
  id: string;
  resolve(payload: OidcPayload | undefined): void;
  reject(err: unknown): void;
}

const batchFind = `
  SELECT r.model, r.id, r.payload, r.consumed_at
  FROM unnest($1::text[], $2::text[]) AS k(model, id)
  JOIN oidc_records r ON r.model = k.model AND r.id = k.id
  WHERE r.expires_at IS NULL OR r.expires_at > $3`;

export const keyOf = (model: string, id: string) => `${model}\u0000${id}`;

/**
 * Every lookup by (model, id) made in one event-loop turn, as one query: what a request finds
 * alongside others (introspection looks a token up as three models at once; concurrent requests
 * each look up their token) costs one round trip and one statement, not one each. Rows are
 * matched back by key; a key asked for twice in a batch gets its own copy each time, since callers
 * change what they find (oidc-provider adds scopes to a found grant in place).
 */
export function createRecordLookups(db: Db, now: () => number) {
  const enqueue = turnQueue<Pending>(async (batch) => {
    let rows: Row[];
    try {
      ({ rows } = await db.query<Row>(batchFind, [batch.map((p) => p.model), batch.map((p) => p.id), now()]));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    const byKey = new Map<string, Row>();
    for (const row of rows) byKey.set(keyOf(row.model, row.id), row);
    const given = new Set<string>();
    for (const p of batch) {
      const key = keyOf(p.model, p.id);
      const row = byKey.get(key);
      if (!row) {
        p.resolve(undefined);
        continue;
      }
      p.resolve(payloadOf(row, given.has(key) ? (copyJson(row.payload) as OidcPayload) : row.payload));
      given.add(key);
    }
  });

  /** The live record of `model` with this id, or undefined; settles with the turn's batch. */
  return (model: string, id: string) => new Promise<OidcPayload | undefined>((resolve, reject) => enqueue({ model, id, resolve, reject }));
}
