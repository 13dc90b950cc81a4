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
import { loadKeySet, type KeySet } from '../keys/key-manager.js';
import { createBackchannelLogout } from '../logout/backchannel-logout.js';
import type { Outcome } from '../logout/delivery-queue.js';
import { storeTargets } from '../logout/logout-targets.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/types.js';
import type { CliIo } from './io.js';

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
  /** where the command writes its result and reads stdin secrets */
  io: CliIo;
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
  /**
   * Back-channel logout tokens for the sessions a command ended (a credential change, a removed
   * user), sent from this process: waits for them (retries for at most cliLogoutSeconds), and
   * says how they ended.
   */
  sendLogoutTokens(): Promise<Record<Outcome, number>>;
}

/** The CLI retries logout tokens for at most this long (the server: backchannelLogout.retryForSeconds). */
export const cliLogoutSeconds = 10;

export async function openCliContext(io: CliIo, toStderr: pino.DestinationStream): Promise<CliContext> {
  const config = loadConfig(io.env);
  const kek = readKek(io.env);
  const log = pino({ level: config.logLevel }, toStderr);
  const audit = createAudit(log);
  // a command is short: SQLite checkpoints the WAL itself (and on close), no checkpointer thread
  const store = await openStore(config.databaseUrl, { backgroundCheckpoints: false }, config.mongo, config.postgres);
  const cliAudit: Audit = (event, fields) => audit(event, { actor: `cli:${osUser()}`, ...fields });
  let keys: Promise<KeySet> | undefined;
  const timing = { ...config.backchannelLogout, retryForSeconds: Math.min(config.backchannelLogout.retryForSeconds, cliLogoutSeconds) };
  const logoutTokens = createBackchannelLogout({
    target: storeTargets(store, config.issuer, () => (keys ??= loadKeySet(store, { kek }))),
    timing,
    audit: cliAudit,
    logger: log,
  });
  const accounts = createAccountService(store, config.passwords, undefined, {
    onSessionsEnded: (accountId, ended) => logoutTokens.sessionsEnded(accountId, ended, 'credential_change'),
  });
  return {
    io,
    config,
    store,
    kek,
    accounts,
    apis: createApiRegistry(store.apis),
    factors: createFactorService({ factors: store.factors, counters: store.counters, kek, issuerName: config.branding.productName }),
    audit: cliAudit,
    validateClient(metadata) {
      const problem = checkClientMetadata(metadata, { production: config.issuer.startsWith('https:') });
      if (problem) throw new UsageError(problem);
    },
    sendLogoutTokens: () => logoutTokens.finish((cliLogoutSeconds + 1) * 1000 + timing.attemptTimeoutMs),
  };
}
