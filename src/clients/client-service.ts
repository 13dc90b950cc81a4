import { randomBytes } from 'node:crypto';

import type { ApiRegistry } from '../apis/api-registry.js';
import type { ClientMetadata, ClientStore } from '../storage/types.js';
import { checkClientMetadata } from './client-policy.js';
import { clientOrigin, originKey } from './registered-clients.js';

/** A registration the client policy (or the API registry) refuses; the message says why, for people. */
export class ClientInputError extends Error {
  readonly code = 'ERR_CLIENT_INPUT';
}

/** A random client id that never starts with '-' (it must work as a command-line argument). */
export const newClientId = (): string => {
  const id = randomBytes(16).toString('base64url');
  return id.startsWith('-') ? newClientId() : id;
};

export const newClientSecret = (): string => randomBytes(32).toString('base64url');

/** What lists and reads show: never the secret; how the client came (`origin`: cli, or registration by itself). */
export const clientSummary = (c: ClientMetadata) => {
  const { client_secret: secret, ...rest } = c;
  delete rest[originKey];
  return { ...rest, public: c.token_endpoint_auth_method === 'none', has_secret: typeof secret === 'string', origin: clientOrigin(c) };
};

/**
 * What oidc-provider would otherwise fill from its defaults, written out: the grant types (default
 * authorization_code + refresh_token), the response types they imply (code exactly when users sign
 * in), and the redirect URI list.
 */
function complete(metadata: ClientMetadata): ClientMetadata {
  const grants = Array.isArray(metadata.grant_types) ? (metadata.grant_types as string[]) : ['authorization_code', 'refresh_token'];
  return { ...metadata, grant_types: grants, response_types: grants.includes('authorization_code') ? ['code'] : [], redirect_uris: metadata.redirect_uris ?? [] };
}

/**
 * Clients as operators make and change them (admin API; the CLI builds the same metadata from its
 * options): every registration through the one client policy, every API it names registered.
 */
export function createClientService({ clients, apis, production }: { clients: ClientStore; apis: Pick<ApiRegistry, 'find'>; production: boolean }) {
  async function check(metadata: ClientMetadata): Promise<void> {
    const audiences = [metadata.default_audience, ...((metadata.introspect_for as unknown[] | undefined) ?? [])];
    for (const audience of audiences) {
      if (typeof audience === 'string' && !(await apis.find(audience))) throw new ClientInputError(`${audience} is not a registered API`);
    }
    const problem = checkClientMetadata(metadata, { production });
    if (problem) throw new ClientInputError(problem);
  }

  return {
    check,

    /** Registers a client with a new id (and a new secret unless it is public); the answer holds the secret, shown once. */
    async register(metadata: Omit<ClientMetadata, 'client_id'>): Promise<ClientMetadata> {
      const isPublic = metadata.token_endpoint_auth_method === 'none';
      const client: ClientMetadata = complete({ ...metadata, client_id: newClientId() });
      if (isPublic) delete client.client_secret;
      else client.client_secret = newClientSecret();
      await check(client);
      await clients.upsert(client);
      return client;
    },

    /** Applies `change` to the stored client (its id and secret stay); undefined when there is no such client. */
    async update(clientId: string, change: (current: ClientMetadata) => ClientMetadata): Promise<ClientMetadata | undefined> {
      const current = await clients.find(clientId);
      if (!current) return undefined;
      const next: ClientMetadata = complete({ ...change(current), client_id: current.client_id });
      if (current.client_secret === undefined) delete next.client_secret;
      else next.client_secret = current.client_secret;
      await check(next);
      await clients.upsert(next);
      return next;
    },

    /** A new secret for a confidential client (the old one stops working at once); undefined when there is no such client. */
    async rotateSecret(clientId: string): Promise<ClientMetadata | undefined> {
      const current = await clients.find(clientId);
      if (!current) return undefined;
      if (current.token_endpoint_auth_method === 'none') throw new ClientInputError('a public client has no secret to rotate');
      const next = { ...current, client_secret: newClientSecret() };
      await clients.upsert(next);
      return next;
    },

    find: (clientId: string) => clients.find(clientId),
    list: () => clients.list(),
    remove: (clientId: string) => clients.remove(clientId),
  };
}

export type ClientService = ReturnType<typeof createClientService>;
