import { clientOptions } from '../../src/storage/mongodb/client-options.js';

describe('MongoDB driver options', () => {
  test('our defaults: majority and retryable writes, a bounded pool and bounded waits', () => {
    expect(clientOptions('mongodb://db1:27017/idport')).toEqual({
      maxPoolSize: 20,
      serverSelectionTimeoutMS: 10_000,
      connectTimeoutMS: 10_000,
      retryWrites: true,
      writeConcern: { w: 'majority' },
      appName: 'idport',
    });
    expect(clientOptions('mongodb://db1/idport', { maxPoolSize: 5, serverSelectionTimeoutMs: 3000 })).toMatchObject({ maxPoolSize: 5, serverSelectionTimeoutMS: 3000 });
  });

  test('options written in the connection string win (any case): ours are left out, so the driver reads the URL', () => {
    const options = clientOptions('mongodb://u:p@db1:27017,db2:27017/idport?replicaSet=rs0&serverSelectionTimeoutMS=3000&W=1&maxpoolsize=7&appName=mine');
    expect(options).toEqual({ connectTimeoutMS: 10_000, retryWrites: true });
    expect(clientOptions('mongodb+srv://cluster0.example.net/idport?retryWrites=false&connectTimeoutMS=500')).toEqual({
      maxPoolSize: 20,
      serverSelectionTimeoutMS: 10_000,
      writeConcern: { w: 'majority' },
      appName: 'idport',
    });
  });
});

test('for real: serverSelectionTimeoutMS=1000 in DATABASE_URL makes start-up give up after about 1 s, not our 10 s', async () => {
  const { openStore } = await import('../../src/storage/open-store.js');
  // the driver and our adapter load on first use: load them before the clock starts, so only the
  // wait for a server is timed (compiling them took seconds on a busy machine)
  await import('../../src/storage/mongodb/mongo-store.js');
  const started = performance.now();
  await expect(openStore('mongodb://127.0.0.1:1/idport?serverSelectionTimeoutMS=1000')).rejects.toMatchObject({
    code: 'ERR_STORE_CONNECT',
    message: expect.stringMatching(/^cannot use MongoDB at 127\.0\.0\.1:1: /),
  });
  const seconds = (performance.now() - started) / 1000;
  expect(seconds).toBeGreaterThanOrEqual(0.9);
  expect(seconds).toBeLessThan(5);
});
