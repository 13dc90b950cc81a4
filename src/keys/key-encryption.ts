import { CompactEncrypt, compactDecrypt } from 'jose';

/** Private key material at rest: plaintext, or sealed as a JWE (dir + A256GCM) under IDPORT_KEK. */
export type StoredMaterial = Record<string, unknown>;

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
