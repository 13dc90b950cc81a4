import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';

import { listenAdmin } from './admin/admin-listener.js';
import { createApp, type IdportApp } from './app.js';
import type { Config } from './config/schema.js';
import { exposeToPrimary, listenMetrics, scrapeRegistry } from './http/metrics-server.js';
import { ensureKeys } from './keys/key-manager.js';
import { openStore } from './storage/open-store.js';
import type { Store } from './storage/types.js';

export interface RunningServer {
  url: string;
  server: Server;
  store: Store;
  idport: IdportApp;
  /** where the separate metrics listener is, when configured */
  metricsAddress?: AddressInfo | undefined;
  /** where the separate admin listener is, when configured */
  adminAddress?: AddressInfo | undefined;
  /** Stops accepting, waits for in-flight requests (up to the configured timeout), closes the store. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** an already open store (tests); otherwise config.databaseUrl is opened */
  store?: Store;
  /** key-encryption key for private keys at rest (IDPORT_KEK) */
  kek?: Uint8Array | undefined;
}

const listen = (server: Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

/**
 * Opens the store, makes sure keys exist, and serves idport. With port 0 and no explicit
 * issuer, the issuer becomes http://localhost:<the port given>.
 */
export async function startServer(baseConfig: Readonly<Config>, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? pino({ level: baseConfig.logLevel });
  const store = options.store ?? (await openStore(baseConfig.databaseUrl, {}, baseConfig.mongo, baseConfig.postgres));
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  let timers: NodeJS.Timeout[] = [];
  try {
    await ensureKeys(store, { kek: options.kek });
    const port = await listen(server, baseConfig.port, baseConfig.host);
    const config = baseConfig.port === 0 && baseConfig.issuer === 'http://localhost:0'
      ? { ...baseConfig, port, issuer: `http://${/^(0\.0\.0\.0|::)$/.test(baseConfig.host) ? 'localhost' : baseConfig.host}:${port}` }
      : baseConfig;
    const idport = await createApp({ config, store, logger, kek: options.kek });
    let draining = false;
    server.on('request', (_req, res) => {
      // While draining, no connection is kept alive past its current response.
      if (draining) res.shouldKeepAlive = false;
      res.once('finish', () => draining && setImmediate(() => server.closeIdleConnections()));
    });
    server.on('request', idport.handle);

    // A separate metrics port: this process's own, unless it is a cluster worker (the primary
    // serves the sum of all workers there).
    exposeToPrimary(idport.metrics.registry);
    const metricsServer =
      config.metrics.port !== null && !cluster.isWorker
        ? await listenMetrics(config.metrics.port, config.metrics.host, scrapeRegistry(idport.metrics.registry))
        : undefined;

    const adminServer = config.admin.port !== null ? await listenAdmin(config.admin.port, config.admin.host, idport.handle) : undefined;

    timers = [
      setInterval(() => {
        store.sweep().then(
          (n) => n && logger.debug({ swept: n }, 'expired records removed'),
          (err: unknown) => logger.error({ err }, 'sweep failed'),
        );
      }, config.sweepSeconds * 1000),
      setInterval(() => {
        idport.reloadKeys().then(
          (changed) => changed && logger.info('signing keys changed in the store; now using the new set'),
          (err: unknown) => logger.error({ err }, 'key reload failed'),
        );
      }, config.keys.refreshSeconds * 1000),
    ];
    for (const t of timers) t.unref();

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        draining = true;
        idport.startDraining();
        for (const t of timers) clearInterval(t);
        metricsServer?.close();
        adminServer?.close();
        adminServer?.closeIdleConnections();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutSeconds * 1000);
        await closed;
        clearTimeout(deadline);
        await idport.close();
        if (!options.store) await store.close();
      })());

    return {
      url: config.issuer,
      server,
      store,
      idport,
      close,
      metricsAddress: metricsServer?.address() as AddressInfo | undefined,
      adminAddress: adminServer?.address() as AddressInfo | undefined,
    };
  } catch (err) {
    for (const t of timers) clearInterval(t);
    server.close();
    if (!options.store) await store.close();
    throw err;
  }
}
