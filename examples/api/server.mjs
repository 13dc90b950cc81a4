// An API (resource server) that accepts idport's JWT access tokens and checks them on its own.
//
//   ISSUER=http://localhost:3000 API_AUDIENCE=https://api.example.com PORT=9090 node examples/api/server.mjs
//
// GET /things needs the scope read:things, POST /things needs write:things.
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';

import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';

import { accessToken, BearerError, challenge, createVerifier, discoverJwksUri } from './verify.mjs';

const initialThings = [
  { id: '1', name: 'Teapot', owner: 'example' },
  { id: '2', name: 'Bicycle', owner: 'example' },
  { id: '3', name: 'Umbrella', owner: 'example' },
];

/**
 * Starts the API. The issuer's discovery document is read once, here; after that tokens are
 * checked against the cached JWKS with no request to idport.
 *
 * @param {object} [options]
 * @param {string} [options.issuer]    default http://localhost:3000
 * @param {string} [options.audience]  default https://api.example.com
 * @param {number} [options.port]      default 9090 (0 = any free port)
 * @param {string} [options.host]      default 127.0.0.1
 * @param {(token: string, o?: { requiredScopes?: string[] }) => Promise<object>} [options.verify]  a ready verifier (tests)
 * @param {string} [options.origin]  this API's public origin, for DPoP proofs (default: the request's)
 * @param {(line: string) => void} [options.log]
 */
export async function start({
  issuer = 'http://localhost:3000',
  audience = 'https://api.example.com',
  port = 9090,
  host = '127.0.0.1',
  verify,
  origin,
  log = () => {},
} = {}) {
  const verifyAccessToken = verify ?? createVerifier({ issuer, audience, jwksUri: await discoverJwksUri(issuer) });
  const things = initialThings.map((t) => ({ ...t }));

  /** Koa middleware: a valid token with these scopes, or a 400/401/403 with WWW-Authenticate. */
  const requireScopes = (...requiredScopes) => async (ctx, next) => {
    const { scheme, token } = accessToken(ctx.get('authorization'));
    // the full URL the client called, for the DPoP proof's htu (set ORIGIN behind a proxy);
    // not ctx.origin: in Koa 3 that is the request's Origin header
    const url = `${origin ?? `${ctx.protocol}://${ctx.host}`}${ctx.path}`;
    const dpop = { scheme, proof: ctx.get('dpop') || undefined, method: ctx.method, url };
    ctx.state.token = await verifyAccessToken(token, { requiredScopes, dpop });
    await next();
  };

  const app = new Koa();
  app.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      if (err instanceof BearerError) {
        ctx.status = err.status;
        ctx.set('WWW-Authenticate', challenge(err));
        ctx.body = err.error ? { error: err.error, error_description: err.description } : { error_description: err.description };
      } else if (err.status >= 400 && err.status < 500 && err.expose) {
        ctx.status = err.status;
        ctx.body = { error: 'invalid_request', error_description: err.message };
      } else {
        log(`error: ${err.stack ?? err}`);
        ctx.status = 500;
        ctx.body = { error: 'server_error' };
      }
    }
    log(`${ctx.method} ${ctx.path} ${ctx.status}`);
  });

  const router = new Router();
  router.get('/', (ctx) => {
    ctx.body = { api: audience, issuer, endpoints: ['GET /things (read:things)', 'POST /things (write:things)'] };
  });
  router.get('/things', requireScopes('read:things'), (ctx) => {
    const { claims, scopes } = ctx.state.token;
    ctx.body = { things, caller: { sub: claims.sub, client_id: claims.client_id, scopes } };
  });
  router.post('/things', requireScopes('write:things'), bodyParser({ enableTypes: ['json'], jsonLimit: '10kb' }), (ctx) => {
    const name = ctx.request.body?.name;
    if (typeof name !== 'string' || !name.trim() || name.length > 100) ctx.throw(400, 'send JSON {"name": "…"} (1-100 characters)');
    const thing = { id: String(things.length + 1), name: name.trim(), owner: ctx.state.token.claims.sub };
    things.push(thing);
    ctx.status = 201;
    ctx.body = thing;
  });
  app.use(router.routes()).use(router.allowedMethods());

  const server = app.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  return {
    url,
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
  const api = await start({
    issuer: env.ISSUER || undefined,
    audience: env.API_AUDIENCE || undefined,
    port: env.PORT ? Number(env.PORT) : undefined,
    host: env.HOST || undefined,
    origin: env.ORIGIN || undefined,
    log: (line) => console.log(line),
  });
  console.log(`example API on ${api.url} (audience ${env.API_AUDIENCE || 'https://api.example.com'}, issuer ${env.ISSUER || 'http://localhost:3000'})`);
  const stop = () => api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`example API: ${err.message}`);
    process.exit(1);
  });
}
