import { supportedScopes } from '../provider/claims.js';
import type { ApiRecord, ApiStore } from '../storage/types.js';

/** An API as operators read it (CLI and admin API): snake_case, times as ISO 8601. */
export const apiView = (api: ApiRecord) => ({
  audience: api.audience,
  name: api.name,
  scopes: api.scopes,
  token_format: api.tokenFormat,
  access_token_ttl: api.accessTokenTtl,
  created_at: new Date(api.createdAt).toISOString(),
  updated_at: new Date(api.updatedAt).toISOString(),
});

/** A registration the API rules refuse; the message says why, for people. */
export class ApiInputError extends Error {
  readonly code = 'ERR_API_INPUT';
}

export type NewApi = Omit<ApiRecord, 'createdAt' | 'updatedAt'>;

const scopePattern = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/; // RFC 6749 §3.3 scope-token

/** Why an API registration is refused, or undefined: RFC 8707 audiences, RFC 6749 scope names. */
export function checkApi(api: NewApi): string | undefined {
  const url = URL.parse(api.audience);
  if (!url) return 'the audience must be an absolute URI (RFC 8707), e.g. https://api.example.com';
  if (api.audience.includes('#')) return 'the audience must not have a fragment (RFC 8707)';
  for (const s of api.scopes) {
    if (!scopePattern.test(s)) return `scope ${s} is not a valid scope name`;
    if (supportedScopes.includes(s)) return `scope ${s} is an OpenID Connect scope, not an API scope`;
  }
  if (api.tokenFormat !== 'jwt' && api.tokenFormat !== 'opaque') return 'the token format must be jwt or opaque';
  const ttl = api.accessTokenTtl;
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > 86400)) return 'the access token lifetime must be whole seconds between 1 and 86400';
  return undefined;
}

/**
 * The APIs (resource servers) clients may get access tokens for: registered through here (CLI,
 * later the admin API), read by the provider (resources.ts) and the consent page.
 */
export function createApiRegistry(apis: ApiStore, { builtIn = [] }: { builtIn?: readonly ApiRecord[] } = {}) {
  const own = new Map(builtIn.map((api) => [api.audience, api]));
  return {
    /** Registers a new API; refuses bad input and an audience already registered (or built in). */
    async register(api: NewApi): Promise<ApiRecord> {
      const problem = checkApi(api);
      if (problem) throw new ApiInputError(problem);
      if (own.has(api.audience) || (await apis.find(api.audience))) throw new ApiInputError(`an API with audience ${api.audience} exists (remove it first)`);
      await apis.upsert(api);
      return (await apis.find(api.audience))!;
    },
    /** A registered API, or one of idport's own (the admin API). */
    find: async (audience: string) => own.get(audience) ?? (await apis.find(audience)),
    /** The registered APIs (idport's own are not listed: nothing about them can be changed). */
    list: () => apis.list(),
    isBuiltIn: (audience: string) => own.has(audience),
    remove: async (audience: string) => !own.has(audience) && (await apis.remove(audience)),
    /** What people call the API: its name, or its audience when it has none. */
    async nameOf(audience: string): Promise<string> {
      return (await apis.find(audience))?.name ?? audience;
    },
  };
}

export type ApiRegistry = ReturnType<typeof createApiRegistry>;
