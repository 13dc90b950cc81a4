import { createHash, randomBytes } from 'node:crypto';

import type { RegistrationTokenRecord, RegistrationTokenStore } from '../storage/types.js';

/** Prefix of every initial access token, so secret scanners and people can tell one at sight. */
const prefix = 'idport_iat_';

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('base64url');

export interface MintOptions {
  ttlSeconds: number;
  /** registrations it allows; undefined = any number until it expires */
  uses?: number | undefined;
}

export interface InitialAccessTokens {
  /** A new token: the value is returned once, only its hash is stored. */
  mint(options: MintOptions): Promise<{ token: string; record: RegistrationTokenRecord }>;
  list(): Promise<RegistrationTokenRecord[]>;
  revoke(id: string): Promise<boolean>;
  /** Takes one registration from the token (atomically, in the store every node shares), or undefined. */
  take(token: string): Promise<RegistrationTokenRecord | undefined>;
  /** Gives the use back after the registration failed. */
  giveBack(id: string): Promise<void>;
}

/** Initial access tokens for dynamic registration (RFC 7591 §3), over the store's registration tokens. */
export function createInitialAccessTokens(tokens: RegistrationTokenStore, now: () => number = Date.now): InitialAccessTokens {
  return {
    async mint({ ttlSeconds, uses }) {
      const token = `${prefix}${randomBytes(32).toString('base64url')}`;
      const id = randomBytes(6).toString('hex');
      const expiresAt = now() + ttlSeconds * 1000;
      await tokens.create({ id, hash: hashToken(token), maxUses: uses ?? null, expiresAt });
      return { token, record: { id, hash: hashToken(token), maxUses: uses ?? null, used: 0, createdAt: now(), expiresAt } };
    },
    list: () => tokens.list(),
    revoke: (id) => tokens.revoke(id),
    // a value that is not even shaped like one of ours is not looked up
    take: async (token) => (token.startsWith(prefix) && token.length < 200 ? tokens.use(hashToken(token)) : undefined),
    giveBack: (id) => tokens.giveBack(id),
  };
}

const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "30m", "12h", "7d" → seconds; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * units[match[2] || 's']!;
  return seconds > 0 ? seconds : undefined;
}
