import type { ClientMetadata, ClientStore } from '../storage/types.js';
import { operatorOnlyProperties } from './registration-policy.js';

/** Where a client came from: the operator's CLI, or RFC 7591 registration by the client itself. */
export type ClientOrigin = 'cli' | 'registration';

/** Stored with every client that registered itself; clients without it were added by the CLI. */
export const originKey = 'idport_origin';

export const clientOrigin = (metadata: Record<string, unknown>): ClientOrigin => (metadata[originKey] === 'registration' ? 'registration' : 'cli');

export class NotRegisteredError extends Error {
  readonly code = 'ERR_NOT_REGISTERED';
}

/**
 * Stores a client as oidc-provider writes it through dynamic registration (RFC 7591) or its
 * management (RFC 7592), the only writes it makes to clients. Marked as registered; on an update,
 * the operator-only properties are the stored ones (set with `idport clients`), whatever the
 * client sent, and a client the CLI made is never written this way. With `pkceOptional`
 * (registration.pkceOptional), a new confidential client that did not send require_pkce is
 * stored with require_pkce false.
 */
export async function storeRegisteredClient(clients: ClientStore, metadata: ClientMetadata, { pkceOptional = false } = {}): Promise<void> {
  const stored = await clients.find(metadata.client_id);
  if (stored && clientOrigin(stored) !== 'registration') throw new NotRegisteredError(`client ${metadata.client_id} was not registered dynamically`);
  const record: ClientMetadata = { ...metadata, [originKey]: 'registration' };
  // registration.pkceOptional (certification): a new confidential client that did not say
  if (pkceOptional && !stored && record.require_pkce === undefined && record.token_endpoint_auth_method !== 'none') record.require_pkce = false;
  for (const key of operatorOnlyProperties) {
    delete record[key];
    if (stored?.[key] !== undefined) record[key] = stored[key];
  }
  await clients.upsert(record);
}
