import type { Pool, PoolClient, QueryResultRow } from 'pg';

/** What every PostgreSQL sub-store uses: one-statement queries on the pool, and transactions. */
export interface Db {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** Runs `work` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  tx<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
}

export function createDb(pool: Pool): Db {
  return {
    async query<R extends QueryResultRow>(text: string, values?: unknown[]) {
      const result = await pool.query<R>(text, values);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    },
    async tx(work) {
      const client = await pool.connect();
      let broken: unknown;
      // A connection that dies while checked out emits 'error' (after failing its query): without
      // a listener that would end the process. The failed query rejects; release drops the client.
      const onError = (err: unknown) => (broken = err);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => (broken = rollbackErr));
        throw err;
      } finally {
        client.off('error', onError);
        // a connection that broke, or whose ROLLBACK failed, is in an unknown state: the pool drops it
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
  };
}

/** TEXT columns cannot hold NUL: a lookup value containing one names nothing any store holds. */
export const isPgKey = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= 1024 && !value.includes('\0');

/** The unique violation SQLSTATE, and the constraint it names. */
export const uniqueViolation = (err: unknown): string | undefined =>
  (err as { code?: string }).code === '23505' ? ((err as { constraint?: string }).constraint ?? '') : undefined;
