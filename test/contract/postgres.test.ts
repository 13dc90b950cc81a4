import { openPostgresStore } from '../../src/storage/postgres/pg-store.js';
import { postgresMissing, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runStoreContract } from './store-contract.js';

const missing = postgresMissing();

if (missing) {
  process.stderr.write(`SKIPPED: PostgreSQL storage contract suite: ${missing}\n`);
  test.skip(`PostgreSQL storage contract suite: SKIPPED (${missing})`, () => undefined);
} else {
  let server: TestPostgres;
  beforeAll(async () => {
    server = (await startPostgres())!;
  }, 60_000);
  afterAll(() => server?.stop(), 30_000);

  // Each test gets a schema of its own (migrated by opening the store) in this file's database.
  runStoreContract('postgres', async (clock) => openPostgresStore({ url: await server.schema(), now: clock.now }));
}
