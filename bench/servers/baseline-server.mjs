/**
 * The BASELINE: bare oidc-provider 9 with its default in-memory adapter and a configuration
 * equivalent to idport's (src/provider/create-provider.ts): same features, PKCE required, code
 * flow only, RS256 ID tokens, same TTLs and claims, same refresh-token rotation rule, clients as
 * static `clients: [...]`, a trivial in-memory findAccount.
 *
 * The login and consent pages are a MINIMAL interaction implementation: the password is checked
 * against an argon2id hash with idport's parameters (m=19456,t=2,p=1) by calling @node-rs/argon2
 * directly (the crypto any provider must do), but no templates, no brute-force limiter, no audit
 * log, the interaction uid as its "CSRF token". Their form fields and paths match idport's so one
 * driver runs both.
 *
 * BENCH_BASELINE_STORE=sqlite gives it a plain durable SQLite adapter (baseline-sqlite-adapter.mjs)
 * instead of the in-memory one: `node bench/run.mjs --baseline-store=sqlite`.
 *
 * BENCH_JWT_AT=1 makes access tokens for the resource `urn:bench:api` JWTs signed ES256 via
 * resourceIndicators, as idport does for an API registered with `idport apis add` (its default
 * token format); otherwise resourceIndicators keeps oidc-provider's defaults, as older idport did.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { URLSearchParams } from 'node:url';

import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

import { loadConfig } from '../../dist/config/load.js';
import { claimsByScope, supportedScopes } from '../../dist/provider/claims.js';
import { clients, jwtResource, jwtScope, user } from '../lib/fixtures.mjs';
import { createSqliteAdapter } from './baseline-sqlite-adapter.mjs';
import { fail, serveIpc } from './child-common.mjs';

const jwtAccessTokens = process.env.BENCH_JWT_AT === '1';
const durable = process.env.BENCH_BASELINE_STORE === 'sqlite' ? createSqliteAdapter() : undefined;
const { ttl } = loadConfig({}, {}); // idport's default lifetimes, so both servers issue the same

const signingKey = async (alg) => {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return { ...(await exportJWK(privateKey)), kid: `${alg}-${randomBytes(4).toString('hex')}`, alg, use: 'sig' };
};

const account = {
  id: '2f1b0c5e-2b1c-4d0b-9a35-0b7f0c1d2e3f',
  ...user,
  claims() {
    return {
      sub: this.id,
      preferred_username: user.username,
      name: user.name,
      email: user.email,
      email_verified: true,
      updated_at: 1_700_000_000,
    };
  },
};

// argon2id (algorithm 2 of @node-rs/argon2's const enum) with the OWASP parameters idport uses.
const passwordHash = await argon2Hash(user.password, { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 });

const ownTokenOnly = async (_ctx, client, token) => token.clientId === client.clientId;

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

try {
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const resourceIndicators = jwtAccessTokens
    ? {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== jwtResource) throw new Provider.errors.InvalidTarget();
          return { scope: jwtScope, accessTokenTTL: ttl.clientCredentials, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      }
    : undefined;

  const provider = new Provider(issuer, {
    // without one, oidc-provider's default in-memory adapter
    ...(durable ? { adapter: durable.Adapter } : {}),
    clients: clients.map((c) => ({ ...c })),
    findAccount: async (_ctx, sub) => (sub === account.id ? { accountId: account.id, claims: () => account.claims() } : undefined),
    jwks: { keys: [await signingKey('RS256'), await signingKey('ES256')] }, // idport also publishes both
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      long: { httpOnly: true, sameSite: 'lax', secure: false },
      short: { httpOnly: true, sameSite: 'lax', secure: false },
    },
    claims: claimsByScope,
    scopes: supportedScopes,
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: ownTokenOnly },
      revocation: { enabled: true, allowedPolicy: ownTokenOnly },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      ...(resourceIndicators ? { resourceIndicators } : {}),
    },
    ttl: {
      AccessToken: ttl.accessToken,
      ClientCredentials: ttl.clientCredentials,
      AuthorizationCode: ttl.authorizationCode,
      IdToken: ttl.idToken,
      Interaction: ttl.interaction,
      Session: ttl.session,
      Grant: ttl.grant,
      RefreshToken(ctx) {
        const rotated = ctx?.oidc?.entities.RotatedRefreshToken;
        const left = rotated ? ttl.refreshTokenAbsolute - rotated.totalLifetime() : ttl.refreshTokenAbsolute;
        return Math.max(1, Math.min(ttl.refreshToken, left));
      },
    },
    rotateRefreshToken(ctx) {
      const { RefreshToken: token, Client: client } = ctx.oidc.entities;
      if (!token || !client) return false;
      if (token.totalLifetime() >= ttl.refreshTokenAbsolute) return false;
      if (client.clientAuthMethod === 'none') return true;
      return token.ttlPercentagePassed() >= 70;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });

  // Minimal login + consent (see the header comment): same paths and field names as idport's.
  provider.use(async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)(?:\/(login|consent))?$/.exec(ctx.path);
    if (!m) return next();
    ctx.set('cache-control', 'no-store');
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== m[1]) ctx.throw(400, 'interaction mismatch');
    const finish = async (result, merge) => {
      const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
      ctx.status = 303;
      ctx.redirect(to);
    };
    if (ctx.method === 'GET' && !m[2]) {
      ctx.type = 'html';
      ctx.body =
        details.prompt.name === 'login'
          ? `<form method="post" action="/interaction/${escape(details.uid)}/login"><input type="hidden" name="csrf" value="${escape(details.uid)}">` +
            '<input name="login"><input type="password" name="password"><button>Sign in</button></form>'
          : `<form method="post" action="/interaction/${escape(details.uid)}/consent"><input type="hidden" name="csrf" value="${escape(details.uid)}">` +
            `<p>${escape(details.params.scope)}</p><button>Allow</button></form>`;
      return;
    }
    if (ctx.method !== 'POST' || !m[2]) ctx.throw(405);
    const form = await readForm(ctx.req);
    if (form.csrf !== details.uid) ctx.throw(403, 'csrf');
    if (m[2] === 'login') {
      if (details.prompt.name !== 'login') ctx.throw(400, 'not at login');
      const passwordOk = await argon2Verify(passwordHash, String(form.password ?? ''));
      if (form.login !== user.username || !passwordOk) {
        ctx.status = 200;
        ctx.type = 'html';
        ctx.body = 'The username or password is incorrect.';
        return;
      }
      return finish({ login: { accountId: account.id, amr: ['pwd'] } }, false);
    }
    if (details.prompt.name !== 'consent') ctx.throw(400, 'not at consent');
    const asked = details.prompt.details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: String(details.params.client_id) });
    if (asked.missingOIDCScope) grant.addOIDCScope(asked.missingOIDCScope.join(' '));
    if (asked.missingOIDCClaims) grant.addOIDCClaims(asked.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(asked.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    return finish({ consent: details.grantId ? {} : { grantId } }, true);
  });

  provider.on('server_error', (_ctx, err) => process.stderr.write(`baseline server_error: ${err.stack}\n`));
  server.on('request', provider.callback());

  serveIpc(async () => {
    await new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    durable?.close();
  });
  process.send({ type: 'ready', url: issuer, features: { jwtAccessTokens: true } });
} catch (err) {
  fail(err);
}
