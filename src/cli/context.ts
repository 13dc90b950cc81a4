
import { createAccountService } from '../accounts/account-service.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ensureKeys, loadKeySet } from '../keys/key-manager.js';
import { openStore } from '../storage/open-store.js';
import type { Store } from '../storage/types.js';
import { createViews } from '../views/render.js';

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

/** What every command gets: the same config and store the server uses. */
export interface CliContext {
  config: Readonly<Config>;
  store: Store;
  accounts: ReturnType<typeof createAccountService>;
  /** oidc-provider's own client metadata validation, so the CLI accepts exactly what the server will. */
  validateClient(metadata: Record<string, unknown>): Promise<void>;
}

export async function openCliContext(): Promise<CliContext> {
  const config = loadConfig();
  const store = await openStore(config.databaseUrl);
  const accounts = createAccountService(store.accounts);
  return {
    config,
    store,
    accounts,
    async validateClient(metadata) {
      await ensureKeys(store);
      // Loaded only here: oidc-provider is heavy and warns on Node 20, and only `clients add` needs it.
      const { createProvider } = await import('../provider/create-provider.js');
      const provider = createProvider({
        config,
        store,
        accounts,
        keys: await loadKeySet(store),
        views: createViews(config.productName),
      });
      await provider.Client.validate(metadata as never);
    },
  };
}
