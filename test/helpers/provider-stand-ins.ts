/**
 * Small local stand-ins for Naver, Apple and Microsoft, for the preset tests (test/e2e/upstream-
 * presets.test.ts). None is the real provider: each is node:http on 127.0.0.1 and a free port,
 * answering with the request and response shapes the provider documents, and checking what a test
 * of idport needs checked (client authentication, state and PKCE carried through, each code used
 * once). What they answer can be changed per test (`next`), and they record what they were sent.
 *
 * - Naver (developers.naver.com, 네이버 로그인 API 명세): GET /oauth2.0/authorize → 302 to the
 *   redirect URI with code and state (or error=access_denied); GET or POST /oauth2.0/token with
 *   grant_type, client_id, client_secret, code and state → { access_token, refresh_token,
 *   token_type: 'bearer', expires_in: '3600' } (a string), and a refusal is HTTP 200 with
 *   { error, error_description }; the profile API on a second origin, GET /v1/nid/me with the
 *   bearer token → { resultcode: '00', message: 'success', response: { id, email, name, nickname,
 *   profile_image } }, or 401 { resultcode: '024', message: 'Authentication failed' }.
 * - Apple (developer.apple.com, Sign in with Apple REST API): discovery with Apple's fields (issuer
 *   is the stand-in's own URL, as the test cannot reach Apple), /auth/keys, /auth/authorize that
 *   requires response_mode=form_post for the name and email scopes and answers with an
 *   auto-submitting HTML form (code, state, and on the user's first authorization `user`, a JSON
 *   of the name), /auth/token that takes client_secret_post whose secret is an ES256 JWT it
 *   VERIFIES with the team key's public key (header kid, iss = team id, sub = client id, aud =
 *   Apple's issuer, iat, exp at most 180 days later), and ID tokens with email_verified and
 *   is_private_email as strings.
 * - Microsoft (learn.microsoft.com, identity platform v2.0): /{tenant}/v2.0/.well-known/openid-
 *   configuration whose issuer, for common and organizations, is the template
 *   `{origin}/{tenantid}/v2.0` (a tenant id gives that tenant's own issuer); authorize (302 with
 *   code, state, session_state); token (client_secret_post, PKCE) with ID tokens whose iss is the
 *   issuer of the signing-in user's `tid`; a refusal is 400 with error, error_codes (AADSTS) and
 *   trace ids.
 */
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

const token = () => randomBytes(24).toString('base64url');
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

/** A listening node:http server on 127.0.0.1; its origin and how to close it. */
async function listen(handle: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<unknown>): Promise<{ origin: string; close: () => Promise<void> }> {
  let origin = '';
  const server: Server = createServer((req, res) => {
    handle(req, res, new URL(req.url ?? '/', origin)).catch((err: unknown) => send(res, 500, { error: 'server_error', error_description: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An RS256 signing key with its public JWK. */
async function rsaKey(kid: string): Promise<{ privateKey: CryptoKey; jwk: JWK; kid: string }> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig', kty: 'RSA' }, kid };
}

const signIdToken = (claims: Record<string, unknown>, key: { privateKey: CryptoKey; kid: string }) => {
  const payload = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)) as JWTPayload;
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
};

// --- Naver ---

export interface NaverUser {
  id: string;
  email?: string;
  name?: string;
  nickname?: string;
  profile_image?: string;
}

export interface NaverStandIn {
  /** the login origin (idport's --issuer for naver): /oauth2.0/authorize and /oauth2.0/token */
  issuer: string;
  /** the profile API's origin (idport's --api-url) */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  /** who signs in at /oauth2.0/authorize next */
  user: NaverUser;
  next: { authorizeError?: string; tokenError?: string; resultcode?: string };
  authorizeRequests: URLSearchParams[];
  tokenRequests: URLSearchParams[];
  reset(): void;
  close(): Promise<void>;
}

export async function startNaverStandIn(): Promise<NaverStandIn> {
  const codes = new Map<string, { state: string; user: NaverUser }>();
  const accessTokens = new Map<string, NaverUser>();
  const naver = {
    clientId: 'naver-client-id-0123',
    clientSecret: 'naverSecret',
    user: { id: 'naver-id-1' },
    next: {},
    authorizeRequests: [],
    tokenRequests: [],
    reset() {
      naver.next = {};
      naver.authorizeRequests.length = 0;
      naver.tokenRequests.length = 0;
    },
  } as unknown as NaverStandIn;

  const login = await listen(async (req, res, url) => {
    if (req.method === 'GET' && url.pathname === '/oauth2.0/authorize') {
      const q = url.searchParams;
      naver.authorizeRequests.push(q);
      const redirectUri = q.get('redirect_uri');
      if (q.get('response_type') !== 'code' || q.get('client_id') !== naver.clientId || !redirectUri || !q.get('state')) {
        return send(res, 400, { error: 'invalid_request', error_description: 'response_type, client_id, redirect_uri and state are required' });
      }
      const back = new URL(redirectUri);
      back.searchParams.set('state', q.get('state')!);
      if (naver.next.authorizeError) {
        back.searchParams.set('error', naver.next.authorizeError);
        back.searchParams.set('error_description', 'Canceled By User');
      } else {
        const code = token();
        codes.set(code, { state: q.get('state')!, user: { ...naver.user } });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/oauth2.0/token' && (req.method === 'GET' || req.method === 'POST')) {
      const q = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams;
      naver.tokenRequests.push(q);
      // Naver answers refusals with HTTP 200
      const refuse = (error: string, description: string) => send(res, 200, { error, error_description: description });
      if (naver.next.tokenError) return refuse(naver.next.tokenError, 'refused by the test');
      if (q.get('grant_type') !== 'authorization_code') return refuse('unsupported_response_type', 'grant_type');
      if (q.get('client_id') !== naver.clientId || q.get('client_secret') !== naver.clientSecret) return refuse('invalid_client', 'client authentication failed');
      const grant = codes.get(q.get('code') ?? '');
      codes.delete(q.get('code') ?? '');
      if (!grant) return refuse('invalid_request', 'no valid data in session');
      if (q.get('state') !== grant.state) return refuse('invalid_request', 'state does not match');
      const accessToken = token();
      accessTokens.set(accessToken, grant.user);
      return send(res, 200, { access_token: accessToken, refresh_token: token(), token_type: 'bearer', expires_in: '3600' });
    }
    return send(res, 404, { error: 'not_found' });
  });

  const api = await listen(async (req, res, url) => {
    if (req.method === 'GET' && url.pathname === '/v1/nid/me') {
      const user = accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!user) return send(res, 401, { resultcode: '024', message: 'Authentication failed (인증 실패하였습니다.)' });
      if (naver.next.resultcode) return send(res, 200, { resultcode: naver.next.resultcode, message: 'refused by the test' });
      return send(res, 200, { resultcode: '00', message: 'success', response: user });
    }
    return send(res, 404, { resultcode: '404', message: 'not found' });
  });

  naver.issuer = login.origin;
  naver.apiUrl = api.origin;
  naver.close = async () => {
    await login.close();
    await api.close();
  };
  return naver;
}

// --- Apple ---

export interface AppleUser {
  sub: string;
  email: string;
  /** Apple sends "true" / "false" (strings), or booleans */
  email_verified: string | boolean;
  is_private_email?: string | boolean;
  name?: { firstName: string; lastName: string };
}

/** A client secret the token endpoint took: its header and claims. */
export interface AppleClientSecret {
  header: Record<string, unknown>;
  claims: JWTPayload;
}

export interface AppleStandIn {
  issuer: string;
  /** idport's Services ID at Apple */
  clientId: string;
  teamId: string;
  keyId: string;
  /** the team's private key as Apple hands it out (.p8: PKCS#8 PEM, EC P-256) */
  privateKeyPem: string;
  user: AppleUser;
  next: { idToken?: Record<string, unknown> };
  authorizeRequests: URLSearchParams[];
  /** the client secrets the token endpoint verified */
  clientSecrets: AppleClientSecret[];
  /** token requests refused, with the reason */
  refusals: string[];
  reset(): void;
  close(): Promise<void>;
}

/** A .p8 key like Apple's: PKCS#8 PEM of an EC P-256 key. */
export function appleStyleKey(): { privateKeyPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
}

const maxAppleSecretSeconds = 15_777_000;

export async function startAppleStandIn(): Promise<AppleStandIn> {
  const signing = await rsaKey('apple-stand-in-1');
  const team = appleStyleKey();
  const codes = new Map<string, { redirectUri: string; nonce: string | null; challenge: string | null; user: AppleUser }>();
  const authorizedBefore = new Set<string>();
  const apple = {
    clientId: 'com.example.idport.signin',
    teamId: 'TEAM123456',
    keyId: 'KEY987ABCD',
    privateKeyPem: team.privateKeyPem,
    user: { sub: '001234.abcdef0123456789.0123', email: 'hidden@privaterelay.appleid.com', email_verified: 'true', is_private_email: 'true' },
    next: {},
    authorizeRequests: [],
    clientSecrets: [],
    refusals: [],
    reset() {
      apple.next = {};
      apple.authorizeRequests.length = 0;
      apple.clientSecrets.length = 0;
      apple.refusals.length = 0;
    },
  } as unknown as AppleStandIn;

  /** Apple's client authentication: client_secret is an ES256 JWT signed with the team's key. */
  const verifyClientSecret = async (secret: string): Promise<string | undefined> => {
    try {
      const header = decodeProtectedHeader(secret);
      if (header.alg !== 'ES256' || header.kid !== apple.keyId) return `header ${JSON.stringify(header)}`;
      const { payload } = await jwtVerify(secret, team.publicKey, { algorithms: ['ES256'], issuer: apple.teamId, audience: apple.issuer, subject: apple.clientId, requiredClaims: ['iat', 'exp'] });
      if (payload.exp! - payload.iat! > maxAppleSecretSeconds) return 'exp more than 180 days after iat';
      apple.clientSecrets.push({ header: { ...header }, claims: payload });
      return undefined;
    } catch (err) {
      return `client secret: ${(err as Error).message}`;
    }
  };

  const server = await listen(async (req, res, url) => {
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /.well-known/openid-configuration':
        return send(res, 200, {
          issuer: apple.issuer,
          authorization_endpoint: `${apple.issuer}/auth/authorize`,
          token_endpoint: `${apple.issuer}/auth/token`,
          revocation_endpoint: `${apple.issuer}/auth/revoke`,
          jwks_uri: `${apple.issuer}/auth/keys`,
          response_types_supported: ['code'],
          response_modes_supported: ['query', 'fragment', 'form_post'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid', 'email', 'name'],
          token_endpoint_auth_methods_supported: ['client_secret_post'],
          claims_supported: ['aud', 'email', 'email_verified', 'exp', 'iat', 'is_private_email', 'iss', 'nonce', 'nonce_supported', 'real_user_status', 'sub', 'transfer_sub'],
        });
      case 'GET /auth/keys':
        return send(res, 200, { keys: [signing.jwk] });
      case 'GET /auth/authorize': {
        const q = url.searchParams;
        apple.authorizeRequests.push(q);
        const redirectUri = q.get('redirect_uri');
        const scope = (q.get('scope') ?? '').split(' ');
        if (q.get('client_id') !== apple.clientId || !redirectUri || q.get('response_type') !== 'code') return send(res, 400, { error: 'invalid_request' });
        // Apple: "response_mode must be form_post when name or email scope is requested"
        if ((scope.includes('name') || scope.includes('email')) && q.get('response_mode') !== 'form_post') return send(res, 400, { error: 'invalid_request', error_description: 'response_mode must be form_post' });
        const code = `c${token()}`;
        codes.set(code, { redirectUri, nonce: q.get('nonce'), challenge: q.get('code_challenge'), user: { ...apple.user } });
        const fields: Record<string, string> = { state: q.get('state') ?? '', code };
        // the name comes once, on the first authorization, unsigned
        if (!authorizedBefore.has(apple.user.sub) && apple.user.name && scope.includes('name')) fields.user = JSON.stringify({ name: apple.user.name, email: apple.user.email });
        authorizedBefore.add(apple.user.sub);
        const escape = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
        const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${escape(v)}">`).join('');
        res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' });
        return res.end(`<!doctype html><html><body onload="document.forms[0].submit()"><form method="POST" action="${escape(redirectUri)}">${inputs}</form></body></html>`);
      }
      case 'POST /auth/token': {
        const body = new URLSearchParams(await readBody(req));
        const refuse = (reason: string, error = 'invalid_grant') => {
          apple.refusals.push(reason);
          return send(res, 400, { error });
        };
        if (body.get('client_id') !== apple.clientId) return refuse('client_id', 'invalid_client');
        const secretProblem = await verifyClientSecret(body.get('client_secret') ?? '');
        if (secretProblem) return refuse(secretProblem, 'invalid_client');
        if (body.get('grant_type') !== 'authorization_code') return refuse('grant_type', 'unsupported_grant_type');
        const grant = codes.get(body.get('code') ?? '');
        codes.delete(body.get('code') ?? '');
        if (!grant) return refuse('unknown or used code');
        if (body.get('redirect_uri') !== grant.redirectUri) return refuse('redirect_uri');
        if (grant.challenge !== null && s256(body.get('code_verifier') ?? '') !== grant.challenge) return refuse('code_verifier');
        const now = Math.floor(Date.now() / 1000);
        // the ID token has no name: Apple gives it only in the first form post
        const user: Record<string, unknown> = { ...grant.user };
        delete user.name;
        const idToken = await signIdToken(
          { iss: apple.issuer, aud: apple.clientId, exp: now + 600, iat: now, auth_time: now, nonce: grant.nonce ?? undefined, nonce_supported: true, real_user_status: 2, ...user, ...apple.next.idToken },
          signing,
        );
        return send(res, 200, { access_token: `a${token()}`, token_type: 'Bearer', expires_in: 3600, refresh_token: `r${token()}`, id_token: idToken });
      }
      default:
        return send(res, 404, { error: 'not_found' });
    }
  });
  apple.issuer = server.origin;
  apple.close = server.close;
  return apple;
}

// --- Microsoft ---

export interface MicrosoftUser {
  /** pairwise subject (per application) */
  sub: string;
  oid: string;
  /** the user's tenant (a GUID) */
  tid: string;
  name?: string;
  preferred_username?: string;
  email?: string;
}

export interface MicrosoftStandIn {
  /** the authority (idport's --issuer for microsoft) */
  authority: string;
  clientId: string;
  clientSecret: string;
  user: MicrosoftUser;
  /** claims over an honest ID token's; `signedBy: 'other-key'` signs with a key not in the JWKS */
  next: { idToken?: Record<string, unknown>; signedBy?: 'other-key' };
  /** the issuer an ID token of tenant `tid` carries */
  issuerOf(tid: string): string;
  authorizeRequests: URLSearchParams[];
  tokenRequests: URLSearchParams[];
  refusals: string[];
  reset(): void;
  close(): Promise<void>;
}

/** The tenant Microsoft's personal accounts live in. */
export const consumersTenant = '9188040d-6c67-4c5b-b112-36a304b66dad';

export async function startMicrosoftStandIn(): Promise<MicrosoftStandIn> {
  const signing = await rsaKey('ms-stand-in-1');
  const other = await rsaKey('ms-stand-in-1');
  const codes = new Map<string, { redirectUri: string; nonce: string | null; challenge: string | null; user: MicrosoftUser }>();
  const ms = {
    clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
    clientSecret: 'ms~secret.value_0123456789',
    user: { sub: 'pairwise-sub-1', oid: '00000000-0000-0000-66f3-3332eca7ea81', tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' },
    next: {},
    authorizeRequests: [],
    tokenRequests: [],
    refusals: [],
    issuerOf: (tid: string) => `${ms.authority}/${tid}/v2.0`,
    reset() {
      ms.next = {};
      ms.authorizeRequests.length = 0;
      ms.tokenRequests.length = 0;
      ms.refusals.length = 0;
    },
  } as unknown as MicrosoftStandIn;

  const server = await listen(async (req, res, url) => {
    const route = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/authorize|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys)$/.exec(url.pathname);
    if (!route) return send(res, 404, { error: 'not_found' });
    const [, tenant, what] = route as unknown as [string, string, string];
    const base = `${ms.authority}/${tenant}`;
    const aadError = (status: number, error: string, code: number, description: string) => {
      ms.refusals.push(description);
      return send(res, status, { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: token(), correlation_id: token() });
    };
    switch (`${req.method} ${what}`) {
      case 'GET v2.0/.well-known/openid-configuration': {
        const issuer = tenant === 'common' || tenant === 'organizations' ? `${ms.authority}/{tenantid}/v2.0` : tenant === 'consumers' ? ms.issuerOf(consumersTenant) : ms.issuerOf(tenant);
        return send(res, 200, {
          token_endpoint: `${base}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          jwks_uri: `${base}/discovery/v2.0/keys`,
          response_modes_supported: ['query', 'fragment', 'form_post'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          issuer,
          request_uri_parameter_supported: false,
          userinfo_endpoint: `${ms.authority}/oidc/userinfo`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          http_logout_supported: true,
          frontchannel_logout_supported: true,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`,
          claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
          tenant_region_scope: null,
          cloud_instance_name: 'microsoftonline.com',
        });
      }
      case 'GET discovery/v2.0/keys':
        return send(res, 200, { keys: [{ ...signing.jwk, x5t: signing.kid, issuer: `${ms.authority}/{tenantid}/v2.0` }] });
      case 'GET oauth2/v2.0/authorize': {
        const q = url.searchParams;
        ms.authorizeRequests.push(q);
        const redirectUri = q.get('redirect_uri');
        if (q.get('client_id') !== ms.clientId || !redirectUri || q.get('response_type') !== 'code' || !(q.get('scope') ?? '').split(' ').includes('openid')) {
          return aadError(400, 'invalid_request', 900144, 'The request body must contain client_id, redirect_uri, response_type=code and scope openid.');
        }
        const code = `0.A${token()}`;
        codes.set(code, { redirectUri, nonce: q.get('nonce'), challenge: q.get('code_challenge'), user: { ...ms.user } });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state') ?? '');
        back.searchParams.set('session_state', token());
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      case 'POST oauth2/v2.0/token': {
        const body = new URLSearchParams(await readBody(req));
        ms.tokenRequests.push(body);
        if (body.get('client_id') !== ms.clientId || body.get('client_secret') !== ms.clientSecret) return aadError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
        if (body.get('grant_type') !== 'authorization_code') return aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
        const grant = codes.get(body.get('code') ?? '');
        codes.delete(body.get('code') ?? '');
        if (!grant) return aadError(400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired or was already used.');
        if (body.get('redirect_uri') !== grant.redirectUri) return aadError(400, 'invalid_grant', 50148, 'The redirect_uri does not match.');
        if (grant.challenge !== null && s256(body.get('code_verifier') ?? '') !== grant.challenge) return aadError(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
        const now = Math.floor(Date.now() / 1000);
        const idToken = await signIdToken(
          { ver: '2.0', iss: ms.issuerOf(grant.user.tid), aud: ms.clientId, exp: now + 3600, iat: now, nbf: now, nonce: grant.nonce ?? undefined, ...grant.user, ...ms.next.idToken },
          ms.next.signedBy === 'other-key' ? other : signing,
        );
        return send(res, 200, { token_type: 'Bearer', scope: 'openid profile email', expires_in: 3599, ext_expires_in: 3599, access_token: `eyJ0${token()}`, id_token: idToken });
      }
      default:
        return send(res, 405, { error: 'invalid_request' });
    }
  });
  ms.authority = server.origin;
  ms.close = server.close;
  return ms;
}
