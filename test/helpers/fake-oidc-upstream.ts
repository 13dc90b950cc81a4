/**
 * A small, crafted OpenID provider for upstream sign-in tests: node:http on 127.0.0.1 and a free
 * port, with discovery, a JWKS (one RS256 key), an /authorize that answers at once (302 back to
 * the redirect_uri with code, state and iss; it remembers nonce and code_challenge), a /token that
 * checks client_secret_basic, the redirect_uri and the PKCE code_verifier (S256) and redeems each
 * code once, and /userinfo. What it answers can be tampered with per test (`next`): the ID token's
 * claims, its header and how it is signed, userinfo, or an error instead of a code.
 *
 * Its discovery lists `RS256`, `HS256` and `none` as ID token algorithms on purpose: whatever an
 * upstream advertises, idport must take only ID tokens signed with a key of the upstream's JWKS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

/** Who is signed in at the upstream: its claims (sub, email, email_verified, name, ...). */
export type UpstreamUser = Record<string, unknown> & { sub: string };

/** How the next ID token is signed. */
export type Signing =
  /** the key in the JWKS (the honest case) */
  | 'jwks-key'
  /** another RSA key, announced with the JWKS key's kid */
  | 'other-key-same-kid'
  /** another RSA key with its own kid, which the JWKS does not have */
  | 'other-key-unknown-kid'
  /** an unsigned JWT */
  | 'none'
  /** HS256 keyed with the client secret (which the attacker is assumed to have guessed) */
  | 'hs256-client-secret'
  /** HS256 keyed with the JWKS key's public key (the RS/HS confusion attack) */
  | 'hs256-public-key';

export interface Tamper {
  /** claims over (or, with undefined, instead of) those of an honest ID token */
  idToken?: Record<string, unknown>;
  signing?: Signing;
  /** claims over the user's at /userinfo */
  userinfo?: Record<string, unknown>;
  /** /authorize answers with this error (e.g. access_denied) instead of a code */
  authorizeError?: string;
}

export interface FakeUpstream {
  /** the issuer: http://127.0.0.1:<port> */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** who signs in at /authorize next */
  user: UpstreamUser;
  /** what to tamper with (kept until reset) */
  next: Tamper;
  /** every token response it sent (access, refresh and ID tokens), to look for in idport's answers */
  issued: { access_token: string; refresh_token: string; id_token: string }[];
  /** token requests by code: each code should be redeemed once */
  redemptions: Map<string, number>;
  /** token requests refused, with the reason */
  refusals: string[];
  /** the query of each /authorize request */
  authorizeRequests: URLSearchParams[];
  reset(): void;
  close(): Promise<void>;
}

interface CodeGrant {
  redirectUri: string;
  nonce: string | undefined;
  challenge: string;
  user: UpstreamUser;
}

const b64u = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const token = () => randomBytes(24).toString('base64url');

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

export async function startFakeOidcUpstream(options: { clientId?: string; clientSecret?: string } = {}): Promise<FakeUpstream> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const kid = 'fake-upstream-key-1';
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const publicPem = await exportSPKI(publicKey);
  const codes = new Map<string, CodeGrant>();
  const accessTokens = new Map<string, UpstreamUser>();
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: 'server_error', error_description: String(err) }));
  });

  const fake: FakeUpstream = {
    issuer: '',
    clientId: options.clientId ?? 'idport-at-fake',
    clientSecret: options.clientSecret ?? 'fake-upstream-client-secret-0123456789',
    user: { sub: 'fake-user-1', email: 'user@upstream.example', email_verified: true, name: 'Fake User' },
    next: {},
    issued: [],
    redemptions: new Map(),
    refusals: [],
    authorizeRequests: [],
    reset() {
      fake.next = {};
      fake.refusals.length = 0;
      fake.authorizeRequests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  const idToken = async (grant: CodeGrant): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { iss: fake.issuer, aud: fake.clientId, iat: now, exp: now + 300, nonce: grant.nonce, ...grant.user, ...fake.next.idToken };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    const payload = claims as JWTPayload;
    switch (fake.next.signing ?? 'jwks-key') {
      case 'jwks-key':
        return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(privateKey);
      case 'other-key-same-kid':
        return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(other.privateKey);
      case 'other-key-unknown-kid':
        return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'attacker-key', typ: 'JWT' }).sign(other.privateKey);
      case 'none':
        return `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(payload)}.`;
      case 'hs256-client-secret':
        return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(fake.clientSecret));
      case 'hs256-public-key':
        return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' }).sign(new TextEncoder().encode(publicPem));
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', fake.issuer);
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /.well-known/openid-configuration':
        return send(res, 200, {
          issuer: fake.issuer,
          authorization_endpoint: `${fake.issuer}/authorize`,
          token_endpoint: `${fake.issuer}/token`,
          userinfo_endpoint: `${fake.issuer}/userinfo`,
          jwks_uri: `${fake.issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256', 'HS256', 'none'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
          authorization_response_iss_parameter_supported: true,
          scopes_supported: ['openid', 'email', 'profile'],
        });
      case 'GET /jwks':
        return send(res, 200, { keys: [jwk] }, { 'content-type': 'application/jwk-set+json' });
      case 'GET /authorize': {
        const q = url.searchParams;
        fake.authorizeRequests.push(q);
        const redirectUri = q.get('redirect_uri');
        if (q.get('client_id') !== fake.clientId || !redirectUri) return send(res, 400, { error: 'invalid_request', error_description: 'unknown client or no redirect_uri' });
        const back = new URL(redirectUri);
        if (q.get('state') !== null) back.searchParams.set('state', q.get('state')!);
        back.searchParams.set('iss', fake.issuer);
        if (fake.next.authorizeError) {
          back.searchParams.set('error', fake.next.authorizeError);
        } else {
          const challenge = q.get('code_challenge');
          if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !challenge) {
            return send(res, 400, { error: 'invalid_request', error_description: 'code flow with PKCE S256 only' });
          }
          const code = token();
          codes.set(code, { redirectUri, nonce: q.get('nonce') ?? undefined, challenge, user: { ...fake.user } });
          back.searchParams.set('code', code);
        }
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      case 'POST /token': {
        const body = new URLSearchParams(await readBody(req));
        const refuse = (reason: string, error = 'invalid_grant', status = 400) => {
          fake.refusals.push(reason);
          return send(res, status, { error, error_description: reason });
        };
        // RFC 6749 §2.3.1: id and secret form-urlencoded, then HTTP Basic
        const [id, secret] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':').map((p) => decodeURIComponent(p.replace(/\+/g, ' ')));
        if (id !== fake.clientId || secret !== fake.clientSecret) return refuse('client authentication failed', 'invalid_client', 401);
        if (body.get('grant_type') !== 'authorization_code') return refuse('grant_type', 'unsupported_grant_type');
        const code = body.get('code') ?? '';
        fake.redemptions.set(code, (fake.redemptions.get(code) ?? 0) + 1);
        const grant = codes.get(code);
        codes.delete(code);
        if (!grant) return refuse('unknown or used code');
        if (body.get('redirect_uri') !== grant.redirectUri) return refuse('redirect_uri does not match');
        const verifier = body.get('code_verifier') ?? '';
        if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return refuse('code_verifier does not match the code_challenge');
        const issued = { access_token: token(), refresh_token: token(), id_token: await idToken(grant) };
        fake.issued.push(issued);
        accessTokens.set(issued.access_token, grant.user);
        return send(res, 200, { ...issued, token_type: 'Bearer', expires_in: 300, scope: 'openid email profile' });
      }
      case 'GET /userinfo': {
        const user = accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
        if (!user) return send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
        return send(res, 200, { ...user, ...fake.next.userinfo });
      }
      default:
        return send(res, 404, { error: 'not_found' });
    }
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
