import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';

export interface TestServer extends RunningServer {
  dir: string;
  /** stops the server and deletes the temp store */
  stop(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'idport-test-'));
}

/** A real idport on 127.0.0.1 and a free port, over a temp SQLite file. */
export async function startTestServer(overrides: Partial<ConfigInput> = {}, dir = tempDir()): Promise<TestServer> {
  const config = loadConfig(
    {},
    { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, 'idport.db')}`, logLevel: 'silent', ...overrides },
  );
  const running = await startServer(config, { logger: pino({ level: 'silent' }) });
  return {
    ...running,
    dir,
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
