import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { calculatePKCECodeChallenge } from 'openid-client';

import type { UpstreamRecord } from '../storage/types.js';
import { upstreamTimeoutSeconds } from './oidc-upstream.js';
import { mapProfile, type UpstreamProfile } from './profile.js';
import { asUpstreamError, UpstreamError } from './upstream-error.js';
import { isLoopback } from './upstream-registry.js';
import type { Checks, UpstreamProtocol } from './upstream-protocol.js';

/** The metadata idport uses from `{authority}/{tenant}/v2.0/.well-known/openid-configuration`. */
interface MicrosoftMetadata {
  /** `https://login.microsoftonline.com/{tenantid}/v2.0` (multi-tenant), or one tenant's issuer */
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
}

interface Discovered {
  metadata: MicrosoftMetadata;
  jwks: ReturnType<typeof createRemoteJWKSet>;
}

/** A tenant id (`tid`): a GUID. */
const tenantId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The issuer a token of tenant `tid` must carry: the metadata's, with `{tenantid}` replaced. */
export const expectedIssuer = (template: string, tid: unknown): string | undefined => {
  if (!template.includes('{tenantid}')) return template;
  return typeof tid === 'string' && tenantId.test(tid) ? template.replaceAll('{tenantid}', tid) : undefined;
};

/**
 * Microsoft identity platform (Entra ID and personal Microsoft accounts), v2.0 endpoints at
 * `{issuer}/{tenant}/v2.0` — the preset's issuer is the authority (https://login.microsoftonline.com,
 * or a national cloud's) and `tenant` is a setting: `organizations` (default: work and school
 * accounts of any tenant), `common` (those and personal accounts), `consumers`, or one tenant (its
 * id or domain).
 *
 * The multi-tenant endpoints' discovery names the issuer `https://login.microsoftonline.com/{tenantid}/v2.0`,
 * a template: each ID token's `iss` is it with the token's own `tid`. openid-client (rightly) takes
 * one issuer only, so here the code flow is done by hand: discovery fetched, PKCE, state and nonce;
 * the code redeemed with client_secret_post; the ID token's signature checked against the
 * metadata's JWKS (RS256), its audience (our client id), expiry, nonce, and its `iss` against the
 * template filled with its `tid` (a GUID). A single tenant's issuer has no template: it must match as it is.
 *
 * The subject is `sub`: stable, and pairwise (one per application), as Microsoft recommends for
 * sign-in. (`oid` + `tid` would be the same user across applications; idport has no use for that.)
 * Microsoft does not verify the `email` claim (a tenant's admin can set any address), so the email
 * is never verified here — unless the operator maps `email_verified` to a claim they configured at
 * Microsoft for it (the optional claim `xms_edov`: `--claim-map '{"email_verified":"xms_edov"}'`).
 * Userinfo is not asked: the ID token has what idport takes, and userinfo's picture needs Graph.
 */
export function createMicrosoftUpstream(clientSecret: (u: UpstreamRecord) => Promise<string>): UpstreamProtocol {
  const discovered = new Map<string, { version: number; found: Promise<Discovered> }>();

  const endpoint = (upstream: UpstreamRecord, value: unknown, what: string): string => {
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      throw new UpstreamError('invalid', `discovery: ${what} is not a URL`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(upstream))) throw new UpstreamError('invalid', `discovery: ${what} is not https`);
    return url.href;
  };

  const discover = async (upstream: UpstreamRecord): Promise<Discovered> => {
    const url = `${upstream.issuer}/${encodeURIComponent(upstream.settings.tenant ?? 'organizations')}/v2.0/.well-known/openid-configuration`;
    const response = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(upstreamTimeoutSeconds * 1000) });
    if (!response.ok) throw new UpstreamError('invalid', `discovery: HTTP ${response.status}`);
    const raw = (await response.json()) as Partial<Record<keyof MicrosoftMetadata, unknown>>;
    if (typeof raw.issuer !== 'string' || !/^https?:\/\//.test(raw.issuer)) throw new UpstreamError('invalid', 'discovery: no issuer');
    const metadata: MicrosoftMetadata = {
      issuer: raw.issuer,
      authorization_endpoint: endpoint(upstream, raw.authorization_endpoint, 'authorization_endpoint'),
      token_endpoint: endpoint(upstream, raw.token_endpoint, 'token_endpoint'),
      jwks_uri: endpoint(upstream, raw.jwks_uri, 'jwks_uri'),
    };
    return { metadata, jwks: createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: upstreamTimeoutSeconds * 1000 }) };
  };

  /** Discovery, kept per upstream version (the JWKS with it); a failed one is tried again next time. */
  const discoveredFor = async (upstream: UpstreamRecord): Promise<Discovered> => {
    const cached = discovered.get(upstream.id);
    if (cached && cached.version === upstream.updatedAt) return cached.found;
    const found = discover(upstream);
    discovered.set(upstream.id, { version: upstream.updatedAt, found });
    found.catch(() => discovered.get(upstream.id)?.found === found && discovered.delete(upstream.id));
    try {
      return await found;
    } catch (err) {
      throw asUpstreamError(err, 'discovery');
    }
  };

  const redeem = async (upstream: UpstreamRecord, metadata: MicrosoftMetadata, code: string, redirectUri: string, checks: Checks): Promise<string> => {
    let response: Response;
    try {
      response = await fetch(metadata.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          code_verifier: checks.codeVerifier,
          client_id: upstream.clientId,
          client_secret: await clientSecret(upstream),
        }),
        redirect: 'error',
        signal: AbortSignal.timeout(upstreamTimeoutSeconds * 1000),
      });
    } catch (err) {
      throw asUpstreamError(err, 'token');
    }
    const body = (await response.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown; error_codes?: unknown };
    if (!response.ok) throw new UpstreamError('invalid', `token: HTTP ${response.status} ${String(body.error ?? '').slice(0, 64)} ${JSON.stringify(body.error_codes ?? '').slice(0, 64)}`);
    if (typeof body.id_token !== 'string') throw new UpstreamError('invalid', 'token: no ID token');
    return body.id_token;
  };

  const verify = async (upstream: UpstreamRecord, found: Discovered, idToken: string, checks: Checks): Promise<JWTPayload> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, found.jwks, { algorithms: ['RS256'], audience: upstream.clientId, requiredClaims: ['iss', 'sub', 'exp', 'iat'], clockTolerance: 30 }));
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_JWKS_TIMEOUT') throw new UpstreamError('unreachable', 'JWKS: no answer', { cause: err });
      throw asUpstreamError(err, 'ID token');
    }
    const issuer = expectedIssuer(found.metadata.issuer, payload.tid);
    if (!issuer || payload.iss !== issuer) throw new UpstreamError('invalid', `ID token: iss ${String(payload.iss).slice(0, 120)} is not the issuer of tenant ${String(payload.tid).slice(0, 40)}`);
    if (payload.nonce !== checks.nonce) throw new UpstreamError('invalid', 'ID token: nonce does not match');
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== upstream.clientId) throw new UpstreamError('invalid', 'ID token: azp is not our client id');
    return payload;
  };

  return {
    async authorizationUrl(upstream, redirectUri, checks) {
      const { metadata } = await discoveredFor(upstream);
      const url = new URL(metadata.authorization_endpoint);
      const params = {
        client_id: upstream.clientId,
        response_type: 'code',
        redirect_uri: redirectUri,
        scope: upstream.scope,
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
      };
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      return url;
    },

    async finish(upstream, callbackUrl, checks): Promise<UpstreamProfile> {
      const answer = callbackUrl.searchParams;
      if (answer.get('state') !== checks.state) throw new UpstreamError('invalid', 'state does not match');
      const error = answer.get('error');
      if (error) throw new UpstreamError('rejected', `authorization: ${error.slice(0, 64)}`);
      const code = answer.get('code');
      if (!code) throw new UpstreamError('invalid', 'authorization: no code');
      const found = await discoveredFor(upstream);
      const redirectUri = `${callbackUrl.origin}${callbackUrl.pathname}`;
      const claims = await verify(upstream, found, await redeem(upstream, found.metadata, code, redirectUri, checks), checks);
      const profile = mapProfile(claims, upstream.claimMap);
      if (!profile) throw new UpstreamError('invalid', 'claims: no usable subject');
      return upstream.claimMap.email_verified ? profile : { ...profile, emailVerified: false };
    },
  };
}
