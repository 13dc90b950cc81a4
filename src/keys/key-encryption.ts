import { CompactEncrypt, compactDecrypt } from 'jose';

import { ConfigError } from '../config/load.js';

/** Private key material at rest: plaintext, or sealed as a JWE (dir + A256GCM) under IDPORT_KEK. */
export type StoredMaterial = Record<string, unknown>;

/**
 * Reads the key-encryption key from IDPORT_KEK: 32 random bytes, base64url
 * (e.g. `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`). Absent means keys are stored unencrypted.
 */
export function readKek(env: Record<string, string | undefined> = process.env): Uint8Array | undefined {
  const value = env.IDPORT_KEK;
  if (!value) return undefined;
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length !== 32 || !/^[A-Za-z0-9_-]+={0,2}$/.test(value)) {
    throw new ConfigError(['IDPORT_KEK: expected 32 random bytes encoded as base64url (43 characters)']);
  }
  return new Uint8Array(bytes);
}

const sealedKey = 'jwe';

/** The one test of what counts as sealed material: `{ jwe, kid?, alg? }`. */
export const isSealed = (material: StoredMaterial): boolean => typeof material[sealedKey] === 'string';

export async function seal(material: StoredMaterial, kek: Uint8Array | undefined): Promise<StoredMaterial> {
  if (!kek) return material;
  const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(material)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'idport-key' })
    .encrypt(kek);
  // kid and alg stay readable so keys can be listed without the KEK
  const hints = Object.fromEntries(Object.entries(material).filter(([k]) => k === 'kid' || k === 'alg'));
  return { [sealedKey]: jwe, ...hints };
}

export class KeyDecryptionError extends Error {
  readonly code = 'ERR_KEY_DECRYPTION';
}

export async function unseal(material: StoredMaterial, kek: Uint8Array | undefined): Promise<StoredMaterial> {
  if (!isSealed(material)) return material;
  const jwe = material[sealedKey] as string;
  if (!kek) throw new KeyDecryptionError('the store holds encrypted keys: set IDPORT_KEK to the key they were encrypted with');
  try {
    const { plaintext } = await compactDecrypt(jwe, kek);
    return JSON.parse(new TextDecoder().decode(plaintext)) as StoredMaterial;
  } catch {
    throw new KeyDecryptionError('IDPORT_KEK does not decrypt the stored keys (wrong key?)');
  }
}
