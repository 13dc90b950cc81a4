import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import type Provider from 'oidc-provider';

import { clientOrigin, originKey } from '../clients/registered-clients.js';
import type { KeySet } from '../keys/key-manager.js';
import type { ClientMetadata, ClientStore, Store } from '../storage/types.js';
import { backchannelLogoutEvent, signLogoutToken, type LogoutSubject } from './logout-token.js';

/** Where one client's logout tokens go, and how they are signed for it. */
export interface LogoutTarget {
  uri: string;
  /** the URI may not reach a special-use address (guardsUri) */
  guard: boolean;
  sign(subject: LogoutSubject): Promise<string>;
}

/**
 * A client that registered itself (RFC 7591), under an https issuer, chose its URI without the
 * operator: it may not point idport's requests into the network idport runs in. A client the
 * operator added (`idport clients`, the admin API) may have its logout endpoint on a private
 * network; with a plain-http issuer (development) no URI is guarded, as with jwks_uri
 * (src/provider/registration.ts).
 */
export const guardsUri = (issuer: string, client: Record<string, unknown>): boolean => issuer.startsWith('https:') && clientOrigin(client) === 'registration';

/** A client's target, or undefined when it has no backchannel_logout_uri (or is gone). */
export type FindTarget = (clientId: string) => Promise<LogoutTarget | undefined>;

/**
 * In the server: the client as the current provider loads it, signed as oidc-provider signs its ID
 * tokens; where it came from read from the store (oidc-provider does not keep our origin mark).
 */
export function providerTargets(provider: () => Provider, clients: Pick<ClientStore, 'find'>): FindTarget {
  return async (clientId) => {
    const current = provider();
    const client = await current.Client.find(clientId);
    const uri = client?.backchannelLogoutUri;
    if (!uri) return undefined;
    const stored = await clients.find(clientId);
    // a client gone from the store between the two lookups counts as self-registered: guarded
    const guard = guardsUri(current.issuer, stored ?? { [originKey]: 'registration' });
    return { uri, guard, sign: (subject) => signLogoutToken(current, client, subject) };
  };
}

/**
 * Where no provider runs (the CLI): the client from the store, and the same token signed with
 * jose and the store's active key for the client's id_token_signed_response_alg (RS256 unless
 * registered otherwise; HS* with its client_secret), read from the store only when first needed.
 */
export function storeTargets(store: Store, issuer: string, keys: () => Promise<KeySet>): FindTarget {
  return async (clientId) => {
    const client = await store.clients.find(clientId);
    const uri = client?.backchannel_logout_uri;
    return typeof uri === 'string' ? { uri, guard: guardsUri(issuer, client!), sign: async (subject) => signWithKeySet(await keys(), issuer, client!, subject) } : undefined;
  };
}

async function signingKey(keys: KeySet, client: ClientMetadata, alg: string) {
  if (alg.startsWith('HS')) {
    if (typeof client.client_secret !== 'string') throw new Error(`${alg} needs a client_secret`);
    return { key: new TextEncoder().encode(client.client_secret), kid: undefined };
  }
  // Retired keys are published verify-only (key_ops) and never sign.
  const jwk = keys.jwks.keys.find((k) => k.alg === alg && !k.key_ops);
  if (!jwk) throw new Error(`no active ${alg} signing key`);
  return { key: await importJWK(jwk, alg), kid: jwk.kid };
}

/** The Logout Token of logout-token.ts, made with jose: same header, same claims, same 2 minutes. */
export async function signWithKeySet(keys: KeySet, issuer: string, client: ClientMetadata, { sub, sid }: LogoutSubject): Promise<string> {
  const alg = typeof client.id_token_signed_response_alg === 'string' ? client.id_token_signed_response_alg : 'RS256';
  const { key, kid } = await signingKey(keys, client, alg);
  return new SignJWT({ events: { [backchannelLogoutEvent]: {} }, ...(sid ? { sid } : {}) })
    .setProtectedHeader({ alg, typ: 'logout+jwt', ...(kid ? { kid } : {}) })
    .setIssuer(issuer)
    .setAudience(client.client_id)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('120s')
    .setJti(randomUUID())
    .sign(key);
}
