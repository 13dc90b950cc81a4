import type { Middleware } from 'koa';
import type { JWK } from 'jose';
import type { Logger } from 'pino';

import type { AccountService } from '../accounts/account-service.js';
import type { AccountSessions } from '../accounts/account-sessions.js';
import type { ApiRegistry } from '../apis/api-registry.js';
import type { Audit } from '../audit.js';
import type { Config } from '../config/schema.js';
import type { FactorService } from '../factors/factor-service.js';
import { createClientService } from '../clients/client-service.js';
import { createKeyService } from '../keys/key-service.js';
import { createInitialAccessTokens } from '../registration/initial-access-tokens.js';
import { createUpstreamRegistry } from '../upstreams/upstream-registry.js';
import type { Store } from '../storage/types.js';
import { createAdminTokens } from './access-token.js';
import { apiRoutes } from './resources/apis.js';
import { clientRoutes } from './resources/clients.js';
import { registrationTokenRoutes } from './resources/registration-tokens.js';
import { upstreamRoutes } from './resources/upstreams.js';
import { keyRoutes } from './resources/keys.js';
import { userFactorRoutes } from './resources/user-factors.js';
import { userSessionRoutes } from './resources/user-sessions.js';
import { userRoutes } from './resources/users.js';
import { createAdminRouter } from './router.js';
import type { AdminRoute } from './routes.js';

export interface AdminApiDeps {
  config: Readonly<Config>;
  store: Store;
  accounts: AccountService;
  /** the accounts' passkeys, TOTP and recovery codes (the account pages' service) */
  factors: FactorService;
  /** the accounts' browser sessions (the account pages' service, with back-channel logout) */
  sessions: AccountSessions;
  /** how many upstream providers an account signs in with (each is another way in) */
  linkCount: (accountId: string) => Promise<number>;
  apis: ApiRegistry;
  audit: Audit;
  logger: Logger;
  kek: Uint8Array | undefined;
  jwks: () => { keys: JWK[] };
  reloadKeys: () => Promise<unknown>;
}

/** Every admin route, from the services the CLI uses too. */
export function adminRoutes({ config, store, accounts, factors, sessions, linkCount, apis, audit, kek, reloadKeys }: Omit<AdminApiDeps, 'logger' | 'jwks'>): AdminRoute[] {
  return [
    ...userRoutes({ accounts, audit }),
    ...userFactorRoutes({ accounts, factors, linkCount, audit }),
    ...userSessionRoutes({ accounts, sessions, audit }),
    ...clientRoutes({ clients: createClientService({ clients: store.clients, apis, production: config.issuer.startsWith('https:') }), audit }),
    ...apiRoutes({ apis, audit, builtIn: apis.isBuiltIn }),
    ...upstreamRoutes({ upstreams: createUpstreamRegistry(store.upstreams, kek), audit }),
    ...registrationTokenRoutes({ tokens: createInitialAccessTokens(store.registrationTokens), audit }),
    ...keyRoutes({ keys: createKeyService({ store, config, kek }), audit, reloadKeys, refreshSeconds: config.keys.refreshSeconds }),
  ];
}

/** The admin API under /admin/v1, as one middleware for the app. */
export function createAdminApi(deps: AdminApiDeps): Middleware {
  const { config, store, audit, logger, jwks } = deps;
  return createAdminRouter({
    issuer: config.issuer,
    routes: adminRoutes(deps),
    tokens: createAdminTokens({ issuer: config.issuer, jwks, counters: store.counters }),
    counters: store.counters,
    idempotencyRecords: store.model('AdminIdempotency'),
    requestsPerMinute: config.admin.requestsPerMinute,
    audit,
    logger,
  });
}
