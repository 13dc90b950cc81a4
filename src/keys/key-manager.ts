import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

import type { KeyRecord, Store } from '../storage/types.js';
import { seal } from './key-encryption.js';
import { assertMayWrite, readMaterial, type ReadOptions } from './sealed-store.js';

export interface KeyOptions {
  /** key-encryption key (IDPORT_KEK): private material is sealed with it before it reaches the store */
  kek?: Uint8Array | undefined;
}

/** Signing algorithms we always hold a key for: RS256 (OIDC's mandatory default) and ES256. */
export const signingAlgs = ['RS256', 'ES256'] as const;

export interface KeySet {
  /** private JWKs for oidc-provider, newest first; retired keys verify only */
  jwks: { keys: JWK[] };
  /** cookie signing secrets, newest first (oidc-provider signs with the first) */
  cookieKeys: string[];
  /** changes whenever the set of keys changes */
  version: string;
}

async function newSigningKey(alg: (typeof signingAlgs)[number], at: number, kek?: Uint8Array): Promise<KeyRecord> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kid,
    kind: 'signing',
    material: await seal({ ...jwk, kid, alg, use: 'sig' }, kek),
    createdAt: at,
    retiredAt: null,
    expiresAt: null,
  };
}

async function newCookieKey(at: number, kek?: Uint8Array): Promise<KeyRecord> {
  const k = randomBytes(32).toString('base64url');
  return {
    kid: `cookie-${randomBytes(8).toString('hex')}`,
    kind: 'cookie',
    material: await seal({ k }, kek),
    createdAt: at,
    retiredAt: null,
    expiresAt: null,
  };
}

const generateSigningKeys = (at: number, kek?: Uint8Array) => Promise.all(signingAlgs.map((alg) => newSigningKey(alg, at, kek)));

const listKeys = (store: Store) => Promise.all([store.keys.list('signing'), store.keys.list('cookie')]);

/**
 * Makes sure the store holds signing and cookie keys. Race-safe: when several nodes start on an
 * empty store at once, the store keeps exactly one node's set and the others use it. Without a
 * KEK it writes nothing into a store of sealed keys (SealedStoreError).
 */
export async function ensureKeys(store: Store, { kek }: KeyOptions = {}): Promise<void> {
  const [signing, cookie] = await listKeys(store);
  const missing = (keys: KeyRecord[]) => keys.every((k) => k.retiredAt !== null);
  if (!missing(signing) && !missing(cookie)) return;
  assertMayWrite([...signing, ...cookie], kek);
  if (missing(signing)) await store.keys.insertIfNone('signing', await generateSigningKeys(Date.now(), kek));
  if (missing(cookie)) await store.keys.insertIfNone('cookie', [await newCookieKey(Date.now(), kek)]);
}


/**
 * Reads the current key set from the store (with a KEK, plaintext keys in it are sealed in place
 * first: see sealed-store.ts).
 */
export async function loadKeySet(store: Store, options?: ReadOptions): Promise<KeySet>;
/** …or nothing when it is still `unlessVersion`, without decrypting or importing anything. */
export async function loadKeySet(store: Store, options: ReadOptions & { unlessVersion: string }): Promise<KeySet | undefined>;
export async function loadKeySet(store: Store, { unlessVersion, ...read }: ReadOptions & { unlessVersion?: string } = {}) {
  const [signing, cookie] = await listKeys(store);
  const version = [...signing, ...cookie].map((k) => `${k.kid}:${k.retiredAt ?? ''}`).join(',');
  if (version === unlessVersion) return undefined;
  if (!signing.some((k) => k.retiredAt === null) || !cookie.length) {
    throw new Error('the store holds no active keys (run the server once, or `idport keys rotate`)');
  }
  const material = await readMaterial(store, [...signing, ...cookie], read);
  const [signingMaterial, cookieMaterial] = [material.slice(0, signing.length), material.slice(signing.length)];
  const keys = signing.map((k, i) => {
    const jwk = { ...signingMaterial[i] } as JWK;
    // A retired key stays published so tokens it signed still verify, but never signs again.
    if (k.retiredAt !== null) jwk.key_ops = ['verify'];
    return jwk;
  });
  return {
    jwks: { keys },
    cookieKeys: cookieMaterial.map((m) => String(m.k)),
    version,
  };
}

/**
 * Replaces the signing keys (and the cookie keys when `cookieKeepSeconds` is given). Old signing
 * keys stay published, verify-only, for `keepSeconds` so tokens they signed keep verifying.
 * Without a KEK it writes nothing into a store of sealed keys (SealedStoreError).
 */
export async function rotateKeys(
  store: Store,
  keepSeconds: number,
  { cookieKeepSeconds, kek }: KeyOptions & { cookieKeepSeconds?: number | undefined } = {},
) {
  const [signing, cookie] = await listKeys(store);
  assertMayWrite([...signing, ...cookie], kek);
  const now = Date.now();
  const fresh = await generateSigningKeys(now, kek);
  await store.keys.rotate('signing', fresh, now + keepSeconds * 1000);
  if (cookieKeepSeconds) {
    // Old cookie keys keep verifying existing cookies for as long as a session can live.
    await store.keys.rotate('cookie', [await newCookieKey(now, kek)], now + cookieKeepSeconds * 1000);
  }
  return fresh.map((k, i) => ({ kid: k.kid, alg: signingAlgs[i]! }));
}
