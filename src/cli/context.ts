import { userInfo } from 'node:os';
import pino from 'pino';

import { createAccountService } from '../accounts/account-service.js';
import { createApiRegistry, type ApiRegistry } from '../apis/api-registry.js';
import { createFactorService, type FactorService } from '../factors/factor-service.js';
import { createAudit, type Audit } from '../audit.js';
import { checkClientMetadata } from '../clients/client-policy.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { readKek } from '../config/secrets.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/types.js';

const osUser = () => {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
};

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

/** What every command gets: the same config and store the server uses. */
export interface CliContext {
  config: Readonly<Config>;
  store: Store;
  /** audit events for every change, as JSON lines on stderr (stdout stays the command's result) */
  audit: Audit;
  /** key-encryption key (IDPORT_KEK), when set */
  kek: Uint8Array | undefined;
  accounts: ReturnType<typeof createAccountService>;
  apis: ApiRegistry;
  /** passkeys, TOTP and recovery codes of accounts (never shown, only listed) */
  factors: FactorService;
  /** The client policy every registration goes through (src/clients/client-policy.ts). */
  validateClient(metadata: Record<string, unknown>): void;
}

export async function openCliContext(): Promise<CliContext> {
  const config = loadConfig();
  const kek = readKek();
  const log = pino({ level: config.logLevel }, pino.destination(2));
  const audit = createAudit(log);
  const store = await openStore(config.databaseUrl, {}, config.mongo, config.postgres);
  const accounts = createAccountService(store, config.passwords);
  return {
    config,
    store,
    kek,
    accounts,
    apis: createApiRegistry(store.apis),
    factors: createFactorService({ factors: store.factors, counters: store.counters, kek, issuerName: config.branding.productName }),
    audit: (event, fields) => audit(event, { actor: `cli:${osUser()}`, ...fields }),
    validateClient(metadata) {
      const problem = checkClientMetadata(metadata, { production: config.issuer.startsWith('https:') });
      if (problem) throw new UsageError(problem);
    },
  };
}
