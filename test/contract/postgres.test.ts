/**
 * The storage contract suite against PostgreSQL: a throwaway cluster of this file's own
 * (test/helpers/postgres.ts), a fresh schema per test.
 */
import pg from 'pg';

import { pageQuery } from '../../src/storage/postgres/accounts.js';
import { openPostgresStore } from '../../src/storage/postgres/pg-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { runStoreContract } from './store-contract.js';

const server = usePostgres('PostgreSQL storage contract suite');

if (server) {
  // Each test gets a schema of its own (migrated by opening the store) in this file's database.
  runStoreContract('postgres', async (clock) => openPostgresStore({ url: await server.schema(), now: clock.now }));

  describe('postgres query plans', () => {
    test('a page of accounts reads an index in (username_norm, id) code point order from its key: no sort, whatever the column collation', async () => {
      const url = await server.schema();
      await (await openPostgresStore({ url })).close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        // a database made with a real locale sorts its UNIQUE index by that locale, not by code point
        const { rows } = await client.query<{ collname: string }>(
          "SELECT collname FROM pg_collation WHERE collname IN ('en-x-icu', 'und-x-icu', 'en_US.utf8', 'C.utf8') ORDER BY collname LIMIT 1",
        );
        if (rows[0]) await client.query(`ALTER TABLE accounts ALTER COLUMN username_norm TYPE TEXT COLLATE "${rows[0].collname}"`);
        await client.query('SET enable_seqscan = off');
        await client.query('SET enable_sort = off');
        for (const query of [{ limit: 51 }, { limit: 51, after: { usernameNorm: 'bob', id: 'sub-bob' } }, { limit: 51, after: { usernameNorm: 'bob', id: 'x' }, contains: 'A%' }]) {
          const { text, values } = pageQuery(query);
          const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
          expect({ query, plan }).toEqual({ query, plan: expect.stringMatching(/Index Scan using accounts_page_order/) });
          expect({ query, plan }).toEqual({ query, plan: expect.not.stringMatching(/Sort|Seq Scan/) });
          if (query.after) expect({ query, plan }).toEqual({ query, plan: expect.stringMatching(/Index Cond: \(ROW\(/) });
        }
      } finally {
        await client.end();
      }
    });
  });

  describe('postgres turn batches', () => {
    test('saves in one turn share one statement, yet a save the database refuses fails alone; of two saves of one key the later is kept', async () => {
      const url = await server.schema();
      const store = await openPostgresStore({ url });
      const watcher = new pg.Client({ connectionString: url });
      try {
        const tokens = store.model('AccessToken');
        const results = await Promise.allSettled([
          tokens.upsert('a', { jti: 'a' }, 60),
          // PostgreSQL's TEXT cannot hold NUL: this record is refused by the database
          tokens.upsert('bad', { jti: 'bad', grantId: 'g\u0000' }, 60),
          tokens.upsert('b', { jti: 'b', v: 1 }, 60),
          tokens.upsert('b', { jti: 'b', v: 2 }, 60),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        expect(await tokens.find('a')).toEqual({ jti: 'a' });
        expect(await tokens.find('bad')).toBeUndefined();
        expect(await tokens.find('b')).toEqual({ jti: 'b', v: 2 });

        // 20 saves in one turn: one INSERT statement (counted by a statement-level trigger)
        await watcher.connect();
        await watcher.query(`
          CREATE TABLE insert_statements (n INTEGER NOT NULL);
          INSERT INTO insert_statements VALUES (0);
          CREATE FUNCTION count_insert_statement() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN UPDATE insert_statements SET n = n + 1; RETURN NULL; END $$;
          CREATE TRIGGER count_insert_statements AFTER INSERT ON oidc_records FOR EACH STATEMENT EXECUTE FUNCTION count_insert_statement();`);
        await Promise.all(Array.from({ length: 20 }, (_, i) => tokens.upsert(`t${i}`, { jti: `t${i}` }, 60)));
        expect((await watcher.query<{ n: number }>('SELECT n FROM insert_statements')).rows[0]!.n).toBe(1);
        const found = await Promise.all(Array.from({ length: 20 }, (_, i) => tokens.find(`t${i}`)));
        expect(found.map((f) => f?.jti)).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`));
      } finally {
        await watcher.end().catch(() => undefined);
        await store.close();
      }
    });
  });
}
