/* global fetch, AbortSignal */
// "Log in with idport": a small web app (relying party) using the authorization code flow with
// PKCE, state and nonce through openid-client, then calling an API with the access token.
//
//   CLIENT_ID=… CLIENT_SECRET=… node examples/rp-web/server.mjs      (then open http://localhost:8080)
//
// Environment: ISSUER (http://localhost:3000), CLIENT_ID, CLIENT_SECRET, PORT (8080), HOST
// (127.0.0.1), PUBLIC_URL (http://localhost:PORT), API_URL (http://localhost:9090), API_AUDIENCE
// (https://api.example.com; empty = no API).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import * as oidc from 'openid-client';

import { createLogoutTokenValidator, LogoutTokenError } from './logout-token.mjs';

// ---------------------------------------------------------------------------------------------
// HTML: every value is escaped unless it is itself the output of html`…`.

class SafeHtml {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

const escapeHtml = (value) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const fragment = (value) => {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(fragment).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
};

function html(strings, ...values) {
  return new SafeHtml(strings.reduce((out, s, i) => out + fragment(values[i - 1]) + s));
}

const json = (value) => JSON.stringify(value, null, 2);

const stylesheet = `
body { font: 16px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 46rem; padding: 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.15rem; margin-top: 1.5rem; }
pre { background: #f4f4f6; padding: .75rem; overflow-x: auto; border-radius: 6px; font-size: .85rem; }
form { display: inline-block; margin: .25rem .5rem .25rem 0; }
button { font: inherit; padding: .5rem 1rem; border-radius: 6px; border: 1px solid #0b57d0; background: #fff; color: #0b57d0; cursor: pointer; }
button.primary { background: #0b57d0; color: #fff; }
button:focus-visible { outline: 3px solid #f9a825; outline-offset: 2px; }
.notice { background: #e6f4ea; padding: .5rem .75rem; border-radius: 6px; }
.alert { background: #fce8e6; padding: .5rem .75rem; border-radius: 6px; }
.hint { color: #555; font-size: .9rem; }
`;

function layout(title, body) {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="/style.css"></head>
<body><main>${body}</main></body></html>`}`;
}

// ---------------------------------------------------------------------------------------------

/** Plain http is allowed only for an issuer on this machine (development). */
export function isLoopbackHttp(url) {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

const safeEqual = (a, b) => {
  const x = Buffer.from(String(a ?? ''));
  const y = Buffer.from(String(b ?? ''));
  return x.length === y.length && timingSafeEqual(x, y);
};

/** An error from openid-client (or fetch) in one line for the page: code and description only. */
function describeError(err) {
  const challenge = err?.cause?.[0]?.parameters; // WWW-Authenticate from a resource server
  if (challenge?.error) return `${challenge.error}${challenge.error_description ? ` (${challenge.error_description})` : ''}`;
  if (err?.error) return `${err.error}${err.error_description ? ` (${err.error_description})` : ''}`;
  return err?.message ?? String(err);
}

/**
 * Starts the example relying party.
 *
 * @param {object} options
 * @param {string} [options.issuer]        default http://localhost:3000
 * @param {string} options.clientId
 * @param {string} options.clientSecret
 * @param {number} [options.port]          default 8080 (0 = any free port)
 * @param {string} [options.host]          default 127.0.0.1
 * @param {string} [options.publicUrl]     this app's URL as the browser sees it; default http://localhost:PORT
 * @param {string} [options.apiUrl]        default http://localhost:9090
 * @param {string} [options.apiAudience]   the API's identifier (RFC 8707 resource); '' = no API
 * @param {string} [options.scope]         default "openid profile email read:things"
 * @param {Map<string, object>} [options.sessions]  where sessions live (default: a new in-memory Map)
 * @param {string} [options.appName]
 * @returns {Promise<{ url: string, redirectUri: string, postLogoutRedirectUri: string, backchannelLogoutUri: string, backchannelLogouts: object[], server: import("node:http").Server, close: () => Promise<void> }>}
 */
export async function start({
  issuer = 'http://localhost:3000',
  clientId,
  clientSecret,
  port = 8080,
  host = '127.0.0.1',
  publicUrl,
  apiUrl = 'http://localhost:9090',
  apiAudience = 'https://api.example.com',
  scope = 'openid profile email read:things',
  sessions = new Map(),
  appName = 'idport example app',
} = {}) {
  if (!clientId || !clientSecret) throw new Error('CLIENT_ID and CLIENT_SECRET are required (idport clients add … prints them)');
  const issuerUrl = new URL(issuer);
  const insecure = isLoopbackHttp(issuerUrl);
  if (issuerUrl.protocol !== 'https:' && !insecure) throw new Error(`ISSUER must use https (plain http only on localhost): ${issuer}`);

  // Discovery once at start: endpoints, and openid-client checks the issuer matches.
  let config;
  try {
    config = await oidc.discovery(issuerUrl, clientId, { client_secret: clientSecret }, oidc.ClientSecretBasic(clientSecret), {
      ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      timeout: 10,
    });
  } catch (err) {
    throw new Error(`discovery at ${issuer} failed (${err.cause?.code ?? err.message}); is idport running there?`);
  }

  const app = new Koa();
  const router = new Router();
  // Listen first (the port decides the redirect URI when it is 0); the app answers once built below.
  const server = createServer();
  server.listen(port, host);
  await once(server, 'listening');
  const base = (publicUrl ?? (port === 0 ? `http://${host}:${server.address().port}` : `http://localhost:${server.address().port}`)).replace(/\/$/, '');
  const redirectUri = `${base}/callback`;
  const postLogoutRedirectUri = `${base}/logged-out`;
  const backchannelLogoutUri = `${base}/backchannel-logout`;
  /** the logout tokens this app accepted (their sid, sub and jti) and how many sessions each ended */
  const backchannelLogouts = [];
  const logoutTokens = createLogoutTokenValidator({ issuer: config.serverMetadata().issuer, clientId, jwksUri: config.serverMetadata().jwks_uri });
  const secureCookies = base.startsWith('https:');
  app.proxy = secureCookies; // https here means a TLS-terminating proxy in front
  const cookieName = 'idport_example_session';
  const sessionTtlMs = 8 * 60 * 60 * 1000;

  // --- sessions: a random id in an HttpOnly cookie; everything else stays on the server -------
  const newSession = (ctx, carry = {}) => {
    const now = Date.now();
    for (const [id, s] of sessions) if (s.expiresAt < now) sessions.delete(id);
    const id = randomBytes(32).toString('base64url');
    const s = { csrf: randomBytes(24).toString('base64url'), expiresAt: now + sessionTtlMs, ...carry };
    sessions.set(id, s);
    ctx.cookies.set(cookieName, id, { httpOnly: true, sameSite: 'lax', secure: secureCookies, path: '/', overwrite: true, maxAge: sessionTtlMs });
    ctx.state.sessionId = id;
    return s;
  };
  const currentSession = (ctx) => {
    const id = ctx.cookies.get(cookieName);
    const s = id ? sessions.get(id) : undefined;
    if (!s || s.expiresAt < Date.now()) return undefined;
    ctx.state.sessionId = id;
    return s;
  };
  const dropSession = (ctx) => {
    if (ctx.state.sessionId) sessions.delete(ctx.state.sessionId);
  };
  /** A POST from one of our own forms: the session's CSRF token must come with it. */
  const formSession = (ctx) => {
    const s = currentSession(ctx);
    return s && safeEqual(ctx.request.body?.csrf, s.csrf) ? s : undefined;
  };

  // --- pages -------------------------------------------------------------------------------------
  const form = (s, action, label, { primary = false, extra = '' } = {}) =>
    html`<form method="post" action="${action}"><input type="hidden" name="csrf" value="${s.csrf}">${extra}<button type="submit"${primary ? html` class="primary"` : ''}>${label}</button></form>`;

  const loginForm = html`<form method="post" action="/login">
  <p><label><input type="checkbox" name="offline" value="yes" checked> Stay signed in (ask for a refresh token)</label></p>
  <button type="submit" class="primary">Log in with idport</button></form>`;

  const messages = (s) =>
    html`${s?.notice ? html`<p class="notice" role="status" id="notice">${s.notice}</p>` : ''}${s?.error ? html`<p class="alert" role="alert" id="error">${s.error}</p>` : ''}`;

  function homePage(s) {
    const user = s?.user;
    if (!user) {
      return layout(appName, html`<h1>${appName}</h1>${messages(s)}
<p>This app lets you sign in with your idport account at <code>${issuer}</code>.</p>${loginForm}`);
    }
    const claims = user.claims;
    const who = claims.name ?? claims.preferred_username ?? claims.email ?? claims.sub;
    return layout(appName, html`<h1>${appName}</h1>
<p id="signed-in-as">Signed in as <strong>${who}</strong></p>${messages(s)}
<div class="actions">
${apiAudience ? form(s, '/call-api', 'Call the API', { primary: true }) : ''}
${user.refreshToken ? form(s, '/refresh', 'Refresh tokens') : ''}
${form(s, '/logout', 'Log out')}
</div>
${s.apiResult ? html`<section aria-labelledby="api-h"><h2 id="api-h">API response</h2>
<p id="api-status">GET ${s.apiResult.url} → ${s.apiResult.status}</p>
${s.apiResult.challenge ? html`<p class="hint">WWW-Authenticate: <code>${s.apiResult.challenge}</code></p>` : ''}
<pre id="api-result">${s.apiResult.body}</pre></section>` : ''}
<section aria-labelledby="claims-h"><h2 id="claims-h">ID token claims</h2>
<pre id="id-token-claims">${json(claims)}</pre></section>
<section aria-labelledby="userinfo-h"><h2 id="userinfo-h">Userinfo</h2>
${user.userinfo ? html`<pre id="userinfo">${json(user.userinfo)}</pre>` : html`<p class="alert" id="userinfo-error">Userinfo could not be read: ${user.userinfoError}</p>`}</section>
<section aria-labelledby="token-h"><h2 id="token-h">Access token</h2>
<dl><dt>For the API</dt><dd id="token-audience">${apiAudience || '(none: userinfo only)'}</dd>
<dt>Scope</dt><dd id="token-scope">${user.scope || '(none)'}</dd>
<dt>Expires</dt><dd>${new Date(user.expiresAt).toISOString()}</dd>
<dt>Refresh token</dt><dd>${user.refreshToken ? 'yes' : 'no'}</dd></dl>
<p class="hint">Tokens stay on the server; the browser only holds a random session cookie.</p></section>`);
  }

  const errorPage = (ctx, status, message) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = layout(`${appName}: error`, html`<h1>Something went wrong</h1><p class="alert" role="alert" id="error">${message}</p><p><a href="/">Back to the app</a></p>`);
  };

  /**
   * Userinfo needs a token for the userinfo endpoint, and the login's access token is for the API
   * (its `aud`), which the provider's userinfo endpoint refuses. RFC 8707: one refresh token,
   * access tokens for several resources — so ask for one with the OpenID scopes and no resource.
   */
  async function readUserinfo(user, accessToken) {
    let token = accessToken;
    if (apiAudience) {
      if (!user.refreshToken) throw new Error('the access token is for the API; sign in with "Stay signed in" to also read userinfo');
      const oidcScopes = scope.split(' ').filter((s) => ['openid', 'profile', 'email', 'address', 'phone'].includes(s));
      const forUserinfo = await oidc.refreshTokenGrant(config, user.refreshToken, { scope: oidcScopes.join(' ') });
      if (forUserinfo.refresh_token) user.refreshToken = forUserinfo.refresh_token; // rotated
      token = forUserinfo.access_token;
    }
    return oidc.fetchUserInfo(config, token, user.claims.sub);
  }

  const signedIn = async (tokens, previous = {}) => {
    const user = {
      claims: tokens.claims() ?? previous.claims,
      idToken: tokens.id_token ?? previous.idToken,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? previous.refreshToken,
      scope: tokens.scope ?? previous.scope,
      expiresAt: Date.now() + (tokens.expiresIn() ?? 0) * 1000,
    };
    try {
      user.userinfo = await readUserinfo(user, tokens.access_token);
    } catch (err) {
      user.userinfoError = describeError(err);
    }
    return user;
  };

  // --- routes ------------------------------------------------------------------------------------
  app.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    // Forms post here and are redirected to idport (form-action covers those redirects).
    ctx.set(
      'Content-Security-Policy',
      `default-src 'none'; style-src 'self'; form-action 'self' ${issuerUrl.origin}; frame-ancestors 'none'; base-uri 'none'`,
    );
    try {
      await next();
    } catch (err) {
      console.error(`example app: ${ctx.method} ${ctx.path}: ${err.stack ?? err}`);
      errorPage(ctx, 500, 'The app hit an unexpected error.');
    }
  });

  router.get('/style.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.body = stylesheet;
  });

  router.get('/', (ctx) => {
    const s = currentSession(ctx);
    ctx.type = 'html';
    ctx.body = homePage(s);
    if (s) s.notice = s.error = undefined; // shown once
  });

  const forms = bodyParser({ enableTypes: ['form'], formLimit: '4kb' });

  // Starts a login: fresh PKCE verifier, state and nonce, kept server-side in a new session.
  router.post('/login', forms, async (ctx) => {
    const old = currentSession(ctx);
    if (old) dropSession(ctx);
    const offline = ctx.request.body?.offline === 'yes';
    const pending = {
      verifier: oidc.randomPKCECodeVerifier(),
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
    };
    newSession(ctx, { pending });
    const parameters = {
      redirect_uri: redirectUri,
      scope: offline ? `${scope} offline_access` : scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      ...(apiAudience ? { resource: apiAudience } : {}),
      // OpenID Connect issues refresh tokens (offline_access) only with prompt=consent.
      ...(offline ? { prompt: 'consent' } : {}),
    };
    ctx.status = 303;
    ctx.redirect(oidc.buildAuthorizationUrl(config, parameters).href);
  });

  router.get('/callback', async (ctx) => {
    const s = currentSession(ctx);
    if (!s?.pending) return errorPage(ctx, 400, 'No sign-in is in progress in this browser. Start again from the home page.');
    const { pending } = s;
    s.pending = undefined; // one use
    let tokens;
    try {
      // Checks iss (RFC 9207), state, the code's PKCE verifier and the ID token's nonce.
      tokens = await oidc.authorizationCodeGrant(
        config,
        new URL(ctx.originalUrl, base),
        { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true },
        apiAudience ? { resource: apiAudience } : undefined,
      );
    } catch (err) {
      return errorPage(ctx, 400, `Sign-in did not complete: ${describeError(err)}`);
    }
    const user = await signedIn(tokens);
    dropSession(ctx); // a new session id once signed in (no session fixation)
    newSession(ctx, { user, notice: 'You are signed in.' });
    ctx.status = 303;
    ctx.redirect('/');
  });

  router.post('/call-api', forms, async (ctx) => {
    const s = formSession(ctx);
    if (!s?.user) return errorPage(ctx, 403, 'Your session has ended or the form is stale. Go back and try again.');
    const url = new URL('/things', apiUrl).href;
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${s.user.accessToken}`, accept: 'application/json' },
        signal: AbortSignal.timeout(5000),
      });
      const text = await res.text();
      let body = text.slice(0, 4000);
      try {
        body = json(JSON.parse(text));
      } catch {
        // not JSON: show the text
      }
      s.apiResult = { url, status: res.status, body, challenge: res.headers.get('www-authenticate') ?? undefined };
    } catch (err) {
      s.apiResult = { url, status: 'no answer', body: `Could not reach the API: ${err.message}` };
    }
    ctx.status = 303;
    ctx.redirect('/');
  });

  router.post('/refresh', forms, async (ctx) => {
    const s = formSession(ctx);
    if (!s?.user) return errorPage(ctx, 403, 'Your session has ended or the form is stale. Go back and try again.');
    try {
      const tokens = await oidc.refreshTokenGrant(config, s.user.refreshToken, apiAudience ? { resource: apiAudience } : undefined);
      s.user = await signedIn(tokens, s.user);
      s.notice = 'Tokens refreshed.';
    } catch (err) {
      s.error = `Refreshing the tokens failed: ${describeError(err)}`;
      // invalid_grant: the grant is gone (access removed on idport's /account, or expired).
      // Nothing this session holds works any more: it is signed out here too.
      if (err?.error === 'invalid_grant') {
        s.user = undefined;
        s.apiResult = undefined;
        s.error += '. Log in again.';
      }
    }
    ctx.status = 303;
    ctx.redirect('/');
  });

  // RP-initiated logout: forget the tokens here (revoking the refresh token), then end the
  // idport session, which asks the user to confirm and sends them back to /logged-out.
  router.post('/logout', forms, async (ctx) => {
    const s = formSession(ctx);
    if (!s?.user) {
      ctx.status = 303;
      return ctx.redirect('/');
    }
    const { idToken, refreshToken } = s.user;
    if (refreshToken) await oidc.tokenRevocation(config, refreshToken).catch(() => undefined);
    dropSession(ctx);
    const logoutState = oidc.randomState();
    newSession(ctx, { logoutState });
    ctx.status = 303;
    ctx.redirect(
      oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogoutRedirectUri, state: logoutState }).href,
    );
  });

  router.get('/logged-out', (ctx) => {
    const s = currentSession(ctx);
    const expected = s?.logoutState && safeEqual(ctx.query.state, s.logoutState);
    if (s) s.logoutState = undefined;
    ctx.type = 'html';
    ctx.body = layout(appName, html`<h1>${appName}</h1>
<p class="notice" role="status" id="notice">${expected ? 'You are logged out of this app and of idport.' : 'You are logged out.'}</p>${loginForm}`);
  });

  // Back-Channel Logout 1.0: idport POSTs a signed logout token here (server to server, no cookie)
  // when a session the user signed in to this app with ends there. A valid token ends this app's
  // sessions of that sign-in: those whose ID token had its sid, or, for a token with only a sub,
  // every session of that user. 200 when done (also when no session matched); 400 with an OAuth
  // error body for a token that does not validate, and then nothing ends.
  router.post('/backchannel-logout', bodyParser({ enableTypes: ['form'], formLimit: '16kb' }), async (ctx) => {
    let claims;
    try {
      claims = await logoutTokens.validate(ctx.request.body?.logout_token);
    } catch (err) {
      if (!(err instanceof LogoutTokenError)) throw err;
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: err.message };
      return;
    }
    const ended = [];
    for (const [id, s] of sessions) {
      const c = s.user?.claims;
      if (!c || (claims.sub && c.sub !== claims.sub)) continue;
      if (claims.sid ? c.sid === claims.sid : c.sub === claims.sub) ended.push(id);
    }
    for (const id of ended) sessions.delete(id);
    backchannelLogouts.push({ sid: claims.sid, sub: claims.sub, jti: claims.jti, sessionsEnded: ended.length });
    ctx.status = 200;
    ctx.body = '';
  });

  app.use(router.routes()).use(router.allowedMethods());
  server.on('request', app.callback());

  return {
    url: base,
    redirectUri,
    postLogoutRedirectUri,
    backchannelLogoutUri,
    backchannelLogouts,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function main() {
  const env = process.env;
  const port = env.PORT ? Number(env.PORT) : 8080;
  const rp = await start({
    issuer: env.ISSUER || undefined,
    clientId: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    port,
    host: env.HOST || undefined,
    publicUrl: env.PUBLIC_URL || undefined,
    apiUrl: env.API_URL || undefined,
    apiAudience: env.API_AUDIENCE ?? undefined,
  });
  console.log(`example app on ${rp.url} — open it in a browser (redirect URI ${rp.redirectUri})`);
  const stop = () => rp.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`example app: ${err.message}`);
    process.exit(1);
  });
}
