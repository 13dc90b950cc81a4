import { ConfigError } from './load.js';

/**
 * Secrets come from the environment only, never from config files. IDPORT_KEK, the key that seals
 * private keys at rest: 32 random bytes, base64url (e.g.
 * `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`). Absent means keys are stored unencrypted.
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
