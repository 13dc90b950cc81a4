import cluster from 'node:cluster';

import { reportReady, runPrimary, workerCount } from './cluster.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { ensureKeys } from './keys/key-manager.js';
import { readKek } from './config/secrets.js';
import { KeyDecryptionError } from './keys/key-encryption.js';
import { SealedStoreError } from './keys/sealed-store.js';
import type { RunningServer } from './server.js';
import { StoreConnectError } from './storage/errors.js';
import { openStore, storeKindOf, StoreUrlError } from './storage/open-store.js';

const cli = process.env.npm_lifecycle_event ? 'npx idport' : 'idport';

function announce(url: string, store: string, workers: number) {
  process.stdout.write(
    `idport is serving ${url} (discovery: ${url}/.well-known/openid-configuration, store: ${store}` +
      `${workers > 1 ? `, ${workers} workers` : ''}). ` +
      `Next: add a user with \`${cli} users add --username alice --password '…' --email alice@example.com\` ` +
      `and an app with \`${cli} clients add --name "My app" --redirect-uri http://localhost:8080/callback\`.\n`,
  );
}

/** Before forking: migrate and create keys once, so workers start on a ready store. */
async function prepareStore(config: Readonly<Config>, kek: Uint8Array | undefined) {
  const store = await openStore(config.databaseUrl, {}, config.mongo, config.postgres);
  try {
    await ensureKeys(store, { kek });
    return store.kind;
  } finally {
    await store.close();
  }
}

/** One server process (alone, or a cluster worker): SIGTERM/SIGINT drain it and close the store. */
async function serve(config: Readonly<Config>, kek: Uint8Array | undefined) {
  const started: { server?: RunningServer } = {};
  const shutdown = (signal: string) => {
    const running = started.server;
    // Still starting: nothing is in flight yet (the store's writes are transactions), so leave.
    if (!running) process.exit(0);
    if (!cluster.isWorker) process.stdout.write(`idport: ${signal} received, draining in-flight requests…\n`);
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // Handlers first: until a listener exists a signal kills the process outright, and a cluster
  // primary that is stopping may signal a worker that is still starting.
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // The server (oidc-provider, every route) is loaded only now, after the configuration was read
  // and checked: a bad setting ends the process before that, in a fraction of the time.
  const { startServer } = await import('./server.js');
  const running = (started.server = await startServer(config, { kek }));
  if (cluster.isWorker) reportReady(running.url);
  else announce(running.url, running.store.kind, 1);
}

/** Process entry: config → store → keys → app → listen, alone or as N workers. */
async function main() {
  const config = loadConfig();
  storeKindOf(config.databaseUrl); // a URL naming no store we have ends the process here, before the server loads
  const kek = readKek();
  if (cluster.isPrimary) for (const notice of config.notices) process.stdout.write(`idport: ${notice}\n`);
  const count = workerCount(config);
  if (count > 1 && cluster.isPrimary) {
    const storeKind = await prepareStore(config, kek);
    runPrimary({
      count,
      metrics: config.metrics.port !== null ? { port: config.metrics.port, host: config.metrics.host } : undefined,
      onReady: (url) => announce(url, storeKind, count),
      log: (message) => process.stdout.write(`${message}\n`),
    });
    return;
  }
  await serve(config, kek);
}

main().catch((err: unknown) => {
  const known = [ConfigError, StoreUrlError, KeyDecryptionError, SealedStoreError, StoreConnectError].some((type) => err instanceof type);
  if (known) {
    process.stderr.write(`idport: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') {
    process.stderr.write(`idport: port already in use (${e.message}); set PORT to another port\n`);
    process.exit(1);
  }
  process.stderr.write(`idport: failed to start: ${e.message ?? String(err)}\n`);
  process.exit(1);
});
