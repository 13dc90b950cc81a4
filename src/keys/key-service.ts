import type { Config } from '../config/schema.js';
import type { Store } from '../storage/types.js';
import { ensureKeys, rotateKeys } from './key-manager.js';
import { cookieKeyRetention, signingKeyRetention } from './retention.js';

export interface SigningKeyInfo {
  kid: string;
  alg: unknown;
  status: 'active' | 'retired';
  createdAt: number;
  retiredAt: number | null;
  /** until when a retired key stays published (verify only) */
  publishedUntil: number | null;
}

/** Signing keys as operators see them (never their material), and rotation: for the CLI and the admin API. */
export function createKeyService({ store, config, kek }: { store: Store; config: Readonly<Config>; kek: Uint8Array | undefined }) {
  return {
    async list(): Promise<SigningKeyInfo[]> {
      await ensureKeys(store, { kek });
      return (await store.keys.list('signing')).map((k) => ({
        kid: k.kid,
        alg: k.material.alg,
        status: k.retiredAt === null ? 'active' : 'retired',
        createdAt: k.createdAt,
        retiredAt: k.retiredAt,
        publishedUntil: k.retiredAt === null ? null : k.expiresAt,
      }));
    },

    /** New signing keys (and cookie keys when asked); old ones stay published as long as tokens they signed live. */
    async rotate({ cookies = false }: { cookies?: boolean } = {}) {
      await ensureKeys(store, { kek });
      const keepSeconds = signingKeyRetention(config, await store.apis.list());
      const cookieKeepSeconds = cookies ? cookieKeyRetention(config) : undefined;
      const fresh = await rotateKeys(store, keepSeconds, { cookieKeepSeconds, kek });
      return { fresh, keepSeconds, cookieKeepSeconds };
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
