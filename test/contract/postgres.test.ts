/**
 * The storage contract suite against PostgreSQL: a throwaway cluster of this file's own
 * (test/helpers/postgres.ts), a fresh schema per test.
 */
import { openPostgresStore } from '../../src/storage/postgres/pg-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { runStoreContract } from './store-contract.js';

const server = usePostgres('PostgreSQL storage contract suite');

if (server) {
  // Each test gets a schema of its own (migrated by opening the store) in this file's database.
  runStoreContract('postgres', async (clock) => openPostgresStore({ url: await server.schema(), now: clock.now }));
}
