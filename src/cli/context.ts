import { userInfo } from 'node:os';
import pino from 'pino';

import { createAccountService } from '../accounts/account-service.js';
import { createSignIns } from '../accounts/sign-ins.js';
import { createConsentService } from '../consents/consent-service.js';
import { createAudit, type Audit } from '../audit.js';
import { checkRedirectUri } from '../clients/redirect-policy.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { readKek } from '../keys/key-encryption.js';
import { ensureKeys, loadKeySet } from '../keys/key-manager.js';
import { sealedInPlaceMessage } from '../keys/sealed-store.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/types.js';
import { createI18n, localesDir } from '../i18n/i18n.js';
import { createViews } from '../views/render.js';

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
  /** oidc-provider's own client metadata validation, so the CLI accepts exactly what the server will. */
  validateClient(metadata: Record<string, unknown>): Promise<void>;
}

export async function openCliContext(): Promise<CliContext> {
  const config = loadConfig();
  const kek = readKek();
  const log = pino({ level: config.logLevel }, pino.destination(2));
  const audit = createAudit(log);
  const store = await openStore(config.databaseUrl, {}, config.mongo);
  const accounts = createAccountService(store, config.passwords);
  return {
    config,
    store,
    kek,
    accounts,
    audit: (event, fields) => audit(event, { actor: `cli:${osUser()}`, ...fields }),
    async validateClient(metadata) {
      const production = config.issuer.startsWith('https:');
      for (const field of ['redirect_uris', 'post_logout_redirect_uris']) {
        for (const uri of (metadata[field] as string[] | undefined) ?? []) {
          const problem = checkRedirectUri(uri, { production });
          if (problem) throw new UsageError(`${field}: ${problem}`);
        }
      }
      await ensureKeys(store, { kek });
      // Loaded only here: oidc-provider is heavy and warns on Node 20, and only `clients add` needs it.
      const { createProvider } = await import('../provider/create-provider.js');
      const provider = createProvider({
        config,
        store,
        accounts,
        consents: createConsentService({ consents: store.consents, signIns: createSignIns(store) }),
        keys: await loadKeySet(store, { kek, onSealed: (kids) => log.warn({ kids }, sealedInPlaceMessage) }),
        views: createViews({ branding: config.branding, i18n: createI18n(localesDir) }),
      });
      await provider.Client.validate(metadata as never);
    },
  };
}
