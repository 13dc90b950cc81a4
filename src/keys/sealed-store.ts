import type { KeyRecord, Store } from '../storage/types.js';
import { isSealed, seal, unseal, type StoredMaterial } from './key-encryption.js';

/**
 * The rules of a sealed store (one whose private keys are sealed under IDPORT_KEK): nothing
 * unsealed is written into it, a mix of sealed and plaintext keys is never used without the KEK,
 * and with the KEK a plaintext key found in it is sealed in place before it is used.
 */
export class SealedStoreError extends Error {
  readonly code = 'ERR_SEALED_STORE';
}

/** What the server logs (as a warning, with the kids) when it sealed plaintext keys in place. */
export const sealedInPlaceMessage = 'unencrypted private keys found in the store were sealed in place with IDPORT_KEK';

/** Refuses to write unsealed keys (no KEK) into a store that holds sealed ones. */
export function assertMayWrite(keys: KeyRecord[], kek: Uint8Array | undefined): void {
  if (kek || !keys.some((k) => isSealed(k.material))) return;
  throw new SealedStoreError(
    'the store holds encrypted keys: set IDPORT_KEK to the key they were encrypted with (refusing to write unencrypted keys next to them)',
  );
}

export interface ReadOptions {
  kek?: Uint8Array | undefined;
  /** called with the kids of plaintext keys that were just sealed in place */
  onSealed?: ((kids: string[]) => void) | undefined;
}

/**
 * The private material of `keys`, in order. Without a KEK a mix of sealed and plaintext keys is
 * refused; with one, every sealed key must decrypt before plaintext keys are sealed in place.
 */
export async function readMaterial(store: Store, keys: KeyRecord[], { kek, onSealed }: ReadOptions = {}): Promise<StoredMaterial[]> {
  const plain = keys.filter((k) => !isSealed(k.material));
  if (!kek && plain.length > 0 && plain.length < keys.length) {
    throw new SealedStoreError(
      `the store holds encrypted keys and unencrypted ones (${plain.map((k) => k.kid).join(', ')}): ` +
        'set IDPORT_KEK to the key the others were encrypted with, and the unencrypted ones are sealed in place',
    );
  }
  const material = await Promise.all(keys.map((k) => unseal(k.material, kek)));
  if (kek && plain.length > 0) {
    const sealed = await sealInPlace(store, plain, kek);
    if (sealed.length > 0) onSealed?.(sealed);
  }
  return material;
}

/** Rewrites each plaintext key as sealed material; a failed write stops everything. Returns the kids sealed. */
async function sealInPlace(store: Store, plain: KeyRecord[], kek: Uint8Array): Promise<string[]> {
  const sealed: string[] = [];
  try {
    for (const key of plain) {
      // false: the key expired meanwhile, so no plaintext of it is left to seal
      if (await store.keys.setMaterial(key.kind, key.kid, await seal(key.material, kek))) sealed.push(key.kid);
    }
  } catch (err) {
    const kids = plain.map((k) => k.kid).join(', ');
    throw new SealedStoreError(`could not seal the unencrypted keys ${kids} in place (${(err as Error).message}): refusing to use them`, {
      cause: err,
    });
  }
  return sealed;
}
