import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openStore } from '../../src/storage/open-store.js';
import { checkedStore, type CheckedStore } from './checked-store.js';

export interface TestServer extends RunningServer {
  dir: string;
  store: CheckedStore;
  /** stops the server and deletes the temp store; fails if the store saw a broken invariant */
  stop(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'idport-test-'));
}

/**
 * A real idport on 127.0.0.1 and a free port, over a temp SQLite file, its store checking every
 * write oidc-provider makes (checked-store.ts). Silent, unless given a logger (to read audit lines).
 */
export async function startTestServer(overrides: Partial<ConfigInput> = {}, dir = tempDir(), logger: Logger = pino({ level: 'silent' })): Promise<TestServer> {
  const config = loadConfig(
    {},
    { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, 'idport.db')}`, logLevel: 'silent', ...overrides },
  );
  const store = checkedStore(await openStore(config.databaseUrl, {}, config.mongo, config.postgres));
  let running: RunningServer;
  try {
    running = await startServer(config, { logger, store });
  } catch (err) {
    await store.close();
    throw err;
  }
  const close = async () => {
    await running.close();
    await store.close();
  };
  return {
    ...running,
    store,
    dir,
    close,
    async stop() {
      await close();
      rmSync(dir, { recursive: true, force: true });
      if (store.violations.length) throw new Error(`the store saw broken invariants:\n${store.violations.join('\n')}`);
    },
  };
}
