import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';

import { createAccountService } from './accounts/account-service.js';
import { createLoginGuard } from './accounts/login-guard.js';
import { createSignIn } from './accounts/sign-in.js';
import { createSignIns } from './accounts/sign-ins.js';
import { createAudit, type Audit } from './audit.js';
import { auditProviderEvents } from './provider/audit-events.js';
import { createConsentService } from './consents/consent-service.js';
import { createFactors } from './factors/create-factors.js';
import { createEmail } from './email/create-email.js';
import { createAccountLinks } from './accounts/account-links.js';
import { createEmailVerification } from './accounts/email-verification.js';
import { createPasswordReset } from './accounts/password-reset.js';
import { createAccountSessions } from './accounts/account-sessions.js';
import { createSignupService } from './accounts/signup-service.js';
import { createApiRegistry } from './apis/api-registry.js';
import { adminApi, adminEnabled, adminPrefix } from './admin/admin-api.js';
import { loadAdminApi } from './admin/load-admin-api.js';
import { viaAdminListener } from './admin/admin-listener.js';
import type { Config } from './config/schema.js';
import { assets } from './http/assets.js';
import { allowRegisteredOrigins } from './http/cors.js';
import { createCsrf } from './http/csrf.js';
import { limitCodeEntries, limitDevicePages } from './http/device-limits.js';
import { requireDeviceSession } from './http/device-session.js';
import { errorHandler } from './http/error-handler.js';
import { health } from './http/health.js';
import { notFound } from './http/not-found.js';
import { postToGet } from './http/post-to-get.js';
import { preparedResponses, type PreparedPath } from './http/prepared-responses.js';
import { createMetrics, requestRecorder, routeLabels, serveMetrics, type Metrics } from './http/metrics.js';
import { bySegment, firstSegment } from './http/path-segments.js';
import { pinHost, pinRequestTarget } from './http/pin-host.js';
import { observeRequests } from './http/request-log.js';
import { contentSecurityPolicy, securityHeaders } from './http/security-headers.js';
import { createI18n, localesDir } from './i18n/i18n.js';
import { interactionPrefix } from './interactions/paths.js';
import { createInteractionRouter } from './interactions/router.js';
import { createVerifyEmailRouter, verifyEmailPath } from './interactions/verify-email.js';
import { createResetPasswordRouter } from './interactions/password-reset.js';
import { createUpstreamCallbackRouter, upstreamCallbackPrefix } from './interactions/upstream-callback.js';
import { createFederatedAccounts } from './upstreams/federated-accounts.js';
import { createUpstreamRegistry } from './upstreams/upstream-registry.js';
import { createUpstreamSignIn } from './upstreams/upstream-sign-in.js';
import { loadKeySet, type KeySet } from './keys/key-manager.js';
import { sealedInPlaceMessage } from './keys/sealed-store.js';
import { createBackchannelLogout, type BackchannelLogout } from './logout/backchannel-logout.js';
import { providerTargets } from './logout/logout-targets.js';
import { createPages } from './pages/create-pages.js';
import { createProvider } from './provider/create-provider.js';
import { createSelfServiceRouter } from './self-service/router.js';
import { auditRegistration } from './registration/audit-registration.js';
import { createInitialAccessTokens } from './registration/initial-access-tokens.js';
import { guardRegistration, registrationPath } from './registration/registration-gate.js';
import type { Store } from './storage/types.js';

export interface AppDeps {
  config: Readonly<Config>;
  store: Store;
  logger: Logger;
  kek?: Uint8Array | undefined;
}

export interface IdportApp {
  /** The request listener: the current provider, with our middleware and routes in front of its own. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  metrics: Metrics;
  provider(): Provider;
  /** Re-reads keys from the store; rebuilds the provider if they changed. Returns true if so. */
  reloadKeys(): Promise<boolean>;
  /** Makes /readyz answer 503 so load balancers move traffic away. */
  startDraining(): void;
  /** back-channel logout deliveries of this process */
  backchannelLogout: BackchannelLogout;
  /** After the HTTP server closed: gives up logout tokens waiting for a retry, waits for those in flight (bounded by their timeout). */
  close(): Promise<void>;
}

/** Composes our middleware, our routes and oidc-provider into one Koa app. */
export async function createApp({ config, store, logger, kek }: AppDeps): Promise<IdportApp> {
  const metrics = createMetrics();
  const logAudit = createAudit(logger);
  // Login and token counters follow the audit events, so the two never disagree.
  const audit: Audit = (event, fields) => {
    logAudit(event, fields);
    if (event === 'login') metrics.logins.inc({ outcome: fields.outcome });
    if (event === 'token.issued' && fields.outcome === 'success') metrics.tokens.inc({ grant_type: String(fields.grant_type) });
  };
  // Logout tokens to the clients of every session that ends (src/logout/): end_session through the
  // provider, and sessions our own code ends (credential changes, /account's session list).
  const backchannel = createBackchannelLogout({
    target: providerTargets(() => current.provider, store.clients),
    timing: config.backchannelLogout,
    audit,
    logger,
    onOutcome: (outcome) => metrics.backchannelLogouts.inc({ outcome }),
  });
  const accounts = createAccountService(store, config.passwords, undefined, {
    onSessionsEnded: (accountId, ended) => backchannel.sessionsEnded(accountId, ended, 'credential_change'),
  });
  const consents = createConsentService({ consents: store.consents, signIns: createSignIns(store) });
  const apis = createApiRegistry(store.apis, { builtIn: [adminApi(config.issuer)] });
  const i18n = createI18n(localesDir);
  const pages = createPages({ branding: config.branding, i18n });
  const onSealed = (kids: string[]) => logger.warn({ kids }, sealedInPlaceMessage);
  let keys: KeySet = await loadKeySet(store, { kek, onSealed });
  let draining = false;

  const csrf = createCsrf(() => keys.cookieKeys);
  const guard = createLoginGuard(store.counters, config.bruteForce);
  const email = createEmail({ config, i18n, logger });
  const links = createAccountLinks(store);
  const verification = createEmailVerification({ store, links, email, issuer: config.issuer, logger });
  const passwordReset = createPasswordReset({ accounts, links, email, counters: store.counters, issuer: config.issuer, policy: config.passwords, audit });
  const signup = createSignupService({ store, accounts, signup: config.signup, passwords: config.passwords });
  const factors = createFactors({ store, issuer: config.issuer, productName: config.branding.productName, cookieKeys: () => keys.cookieKeys, kek });
  const signIn = createSignIn({
    accounts: store.accounts,
    passwords: accounts.passwords,
    guard,
    unknownLoginChecksPerSecond: config.bruteForce.unknownLoginChecksPerSecond,
    onCheck: (kind) => metrics.passwordChecks.inc({ kind }),
  });
  const upstreams = createUpstreamSignIn(createUpstreamRegistry(store.upstreams, kek), config.issuer);
  const federated = createFederatedAccounts(store, accounts);
  const { sendPage } = pages;
  const provider = () => current.provider;
  const { productName } = config.branding;
  const sessions = createAccountSessions(store, (accountId, ended) => backchannel.sessionsEnded(accountId, ended, 'session_ended'));
  const linkCount = async (accountId: string) => (await federated.linksOf(accountId)).length;
  const interactions = createInteractionRouter({ provider, accounts, sendPage, i18n, productName, csrf, signIn, guard, factors, mfa: config.mfa, email, links, selfService: config, signup, verification, passwordReset, upstreams, federated, audit, consents, apis });
  const verifyEmail = createVerifyEmailRouter({ verification, sendPage, i18n, audit });
  const selfService = createSelfServiceRouter({ provider, issuer: config.issuer, accounts, consents, factors, mfa: config.mfa, email, links, verification, guard, sessions, passwords: config.passwords, i18n, sendPage, csrf, audit, federated, upstreams });
  const upstreamCallback = createUpstreamCallbackRouter();
  const resetPassword = createResetPasswordRouter({ passwordReset, sendPage, csrf, i18n, policy: config.passwords });

  const sessionCookie = () => current.provider.cookieName('session');
  const adminOnPublicPort = adminEnabled(config);
  const admin = adminOnPublicPort || config.admin.port !== null
    ? loadAdminApi({ config, store, accounts, factors: factors.service, sessions, linkCount, apis, audit, logger, kek, jwks: () => keys.jwks, reloadKeys: () => idport.reloadKeys() })
    : undefined;

  // One Koa context per request: oidc-provider is itself a Koa app, and provider.use() puts our
  // middleware in front of its router (a second app calling provider.callback() cost a context,
  // a response cycle and ~20 promises per request).
  const front: Middleware[] = [
    observeRequests(logger, requestRecorder(metrics, routeLabels({ interactionPrefix }))),
    pinHost(config.issuer),
    securityHeaders({ https: config.issuer.startsWith('https:'), csp: contentSecurityPolicy(config.branding) }),
    errorHandler(pages.showErrorPage, logger),
    notFound(pages.showErrorPage),
  ];
  // Everything else of ours serves one first path segment each: one layer for all of it
  // (src/http/path-segments.ts), so the provider's endpoints pass ours with one lookup. With
  // discovery and JWKS, prepared once per provider (src/http/prepared-responses.ts), in build().
  const healthChecks = health(store, () => draining);
  const deviceFlow = { counters: store.counters, limits: config.deviceFlow, sessionCookie };
  const segments: SegmentEntry[] = [
    ['/healthz', [healthChecks]],
    ['/readyz', [healthChecks]],
    ...servedIf(config.metrics.onPublicPort && ['/metrics', [serveMetrics(metrics.registry)]]),
    ['/assets', [assets(config.branding)]],
    ['/device', [limitDevicePages(deviceFlow), requireDeviceSession({ findSession: (id) => store.model('Session').find(id), sessionCookie }), limitCodeEntries(deviceFlow)]],
    ...servedIf(config.registration.mode !== 'off' && [registrationPath, [guardRegistration({ mode: config.registration.mode, counters: store.counters, tokens: createInitialAccessTokens(store.registrationTokens), requestsPerIpPerMinute: config.registration.requestsPerIpPerMinute, audit })]]),
    ['/auth', [postToGet(['/auth'])]],
    ['/session', [postToGet(['/session/end'])]],
    ...servedIf(admin && [firstSegment(adminPrefix), [under(adminPrefix, onlyWhere(adminOnPublicPort, admin))]]),
    ['/account', [selfService.routes() as Middleware]],
    [interactionPrefix, [interactions.routes() as Middleware, interactions.allowedMethods() as Middleware]],
    [verifyEmailPath, [verifyEmail.routes() as Middleware]],
    [upstreamCallbackPrefix, [upstreamCallback.routes() as Middleware]],
    ...servedIf(config.passwordReset.enabled && ['/reset-password', [resetPassword.routes() as Middleware]]),
  ];
  const build = (k: KeySet) => {
    const provider = createProvider({
      config,
      store,
      accounts,
      consents,
      apis,
      keys: k,
      pages: pages.provider,
      cors: allowRegisteredOrigins,
      onStoreOperation: (model, op, seconds) => metrics.store.observe([model, op], seconds),
      backchannelLogout: backchannel.notify,
    });
    for (const m of front) provider.use(m);
    const prepared = preparedResponses(publicDocuments);
    const documentSegments = new Set(publicDocuments.map((d) => firstSegment(d.path)));
    provider.use(bySegment([...segments, ...[...documentSegments].map((segment) => [segment, [prepared]] as const)]));
    provider.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc-provider server_error'));
    auditProviderEvents(provider, audit);
    auditRegistration(provider, audit);
    return { provider, handle: provider.callback() };
  };
  if (config.registration.mode === 'open') {
    logger.warn({ registration: 'open' }, 'WARNING: dynamic client registration is OPEN (registration.mode "open"): anyone who can reach /reg can register a client. Use "initial-access-token" unless that is what you want.');
  }
  let current = build(keys);

  const idport: IdportApp = {
    handle(req, res) {
      pinRequestTarget(req);
      current.handle(req, res);
    },
    metrics,
    provider: () => current.provider,
    async reloadKeys() {
      const next = await loadKeySet(store, { kek, onSealed, unlessVersion: keys.version });
      if (!next) return false;
      keys = next;
      current = build(next);
      return true;
    },
    startDraining() {
      draining = true;
    },
    backchannelLogout: backchannel,
    close: () => backchannel.close(),
  };
  return idport;
}

/**
 * Discovery and the JWKS, served from a prepared copy (rebuilt with the provider when keys change).
 * The JWKS for a minute: relying parties refetch on an unknown kid anyway, and a rotation's new keys
 * reach caches within that minute; discovery changes only with a restart.
 */
const publicDocuments: PreparedPath[] = [
  { path: '/.well-known/openid-configuration', maxAge: 300 },
  { path: '/.well-known/oauth-authorization-server', maxAge: 300 },
  { path: '/jwks', maxAge: 60 },
];

type SegmentEntry = [segment: string, middleware: Middleware[]];

/** `served && [segment, stack]`: the entry in a list when the segment is served at all. */
const servedIf = (entry: SegmentEntry | false | undefined): SegmentEntry[] => (entry ? [entry] : []);

/** The admin API on the public port when it is served there; on the admin port always. */
const onlyWhere = (onPublicPort: boolean, routes: Middleware): Middleware =>
  function adminWhereServed(ctx, next) {
    return onPublicPort || viaAdminListener(ctx.req) ? routes(ctx, next) : next();
  };

/** The admin API's routes, entered only under its prefix (its first segment is shared with nothing else). */
function under(prefix: string, routes: Middleware): Middleware {
  const base = prefix.replace(/\/$/, '');
  return function adminRoutes(ctx, next) {
    const { path } = ctx;
    if (path !== base && !path.startsWith(`${base}/`)) return next();
    return routes(ctx, next);
  };
}
