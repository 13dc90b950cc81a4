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
}
