import { ConfigError, loadConfig } from './config/load.js';
import { KeyDecryptionError, readKek } from './keys/key-encryption.js';
import { startServer } from './server.js';
import { StoreUrlError } from './storage/open-store.js';

/** Process entry: config → store → keys → app → listen; SIGTERM/SIGINT drain and close. */
async function main() {
  const config = loadConfig();
  const running = await startServer(config, { kek: readKek() });
  const cli = process.env.npm_lifecycle_event ? 'npx idport' : 'idport';
  process.stdout.write(
    `idport is serving ${running.url} (discovery: ${running.url}/.well-known/openid-configuration, store: ${running.store.kind}). ` +
      `Next: add a user with \`${cli} users add --username alice --password '…' --email alice@example.com\` ` +
      `and an app with \`${cli} clients add --name "My app" --redirect-uri http://localhost:8080/callback\`.\n`,
  );

  const shutdown = (signal: string) => {
    process.stdout.write(`idport: ${signal} received, draining in-flight requests…\n`);
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof StoreUrlError || err instanceof KeyDecryptionError) {
    process.stderr.write(`idport: ${err.message}\n`);
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
