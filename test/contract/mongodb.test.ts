import { openMongoStore } from '../../src/storage/mongodb/mongo-store.js';
import { runStoreContract } from './store-contract.js';

const uri = process.env.MONGODB_URI;

if (uri) {
  // Each test gets its own database, dropped afterwards.
  const dbUrl = (name: string) => {
    const url = new URL(uri);
    url.pathname = `/${name}`;
    return url.toString();
  };
  runStoreContract('mongodb', async (clock) => {
    const name = `idport_contract_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const store = await openMongoStore({ url: dbUrl(name), now: clock.now, serverSelectionTimeoutMs: 5000 });
    const close = store.close.bind(store);
    return {
      ...store,
      async close() {
        const { MongoClient } = await import('mongodb');
        const admin = new MongoClient(dbUrl(name));
        await admin.db().dropDatabase().finally(() => admin.close());
        await close();
      },
    };
  });
} else {
  process.stderr.write('SKIPPED: MongoDB storage contract suite (set MONGODB_URI=mongodb://host:27017 to run it)\n');
  test.skip('MongoDB storage contract suite: SKIPPED (set MONGODB_URI to run it)', () => undefined);
}
