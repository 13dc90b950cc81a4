import type { ApiRecord } from '../../storage/types.js';
import type { Args } from '../args.js';
import { UsageError, type CliContext } from '../context.js';
import { iso, print, table } from '../output.js';

const scopePattern = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/; // RFC 6749 §3.3 scope-token

const view = (api: ApiRecord) => ({
  audience: api.audience,
  name: api.name,
  scopes: api.scopes,
  token_format: api.tokenFormat,
  access_token_ttl: api.accessTokenTtl,
  created_at: iso(api.createdAt),
  updated_at: iso(api.updatedAt),
});

function apiFromArgs(args: Args): Omit<ApiRecord, 'createdAt' | 'updatedAt'> {
  const audience = args.string('audience');
  if (!audience) throw new UsageError('--audience is required (e.g. https://api.example.com)');
  try {
    new URL(audience);
  } catch {
    throw new UsageError('--audience must be an absolute URI (RFC 8707), e.g. https://api.example.com');
  }
  if (audience.includes('#')) throw new UsageError('--audience must not have a fragment (RFC 8707)');
  const scopes = [...new Set(args.list('scope').flatMap((s) => s.split(/\s+/)).filter(Boolean))];
  for (const s of scopes) {
    if (!scopePattern.test(s)) throw new UsageError(`--scope ${s} is not a valid scope name`);
    if (['openid', 'profile', 'email', 'address', 'phone', 'offline_access'].includes(s)) {
      throw new UsageError(`--scope ${s} is an OpenID Connect scope, not an API scope`);
    }
  }
  const format = args.string('token-format') ?? 'jwt';
  if (format !== 'jwt' && format !== 'opaque') throw new UsageError('--token-format must be jwt or opaque');
  const ttlText = args.string('ttl');
  const ttl = ttlText === undefined ? null : Number(ttlText);
  if (ttl !== null && (!Number.isInteger(ttl) || ttl < 1 || ttl > 86400)) throw new UsageError('--ttl must be whole seconds between 1 and 86400');
  return { audience, name: args.string('name') ?? null, scopes, tokenFormat: format, accessTokenTtl: ttl };
}

export async function apis(ctx: CliContext, verb: string | undefined, args: Args): Promise<void> {
  const json = args.flag('json');
  switch (verb) {
    case 'add': {
      const api = apiFromArgs(args);
      if (await ctx.store.apis.find(api.audience)) throw new UsageError(`an API with audience ${api.audience} exists (remove it first)`);
      await ctx.store.apis.upsert(api);
      ctx.audit('api.added', { outcome: 'success', audience: api.audience, scopes: api.scopes });
      const stored = (await ctx.store.apis.find(api.audience))!;
      return print(view(stored), json, () => `added API ${api.audience} (${api.tokenFormat} access tokens; scopes: ${api.scopes.join(' ') || '-'})`);
    }
    case 'list': {
      const all = (await ctx.store.apis.list()).map(view);
      return print({ apis: all }, json, () => table(all.map((a) => ({ ...a, scopes: a.scopes.join(' ') })), ['audience', 'name', 'token_format', 'scopes']));
    }
    case 'show': {
      const audience = args.positional[0];
      if (!audience) throw new UsageError('name the API: apis show AUDIENCE');
      const api = await ctx.store.apis.find(audience);
      if (!api) throw new Error(`no API "${audience}"`);
      const v = view(api);
      return print(v, json, () => Object.entries(v).map(([k, x]) => `${k}: ${Array.isArray(x) ? x.join(' ') : String(x ?? '-')}`).join('\n'));
    }
    case 'remove': {
      const audience = args.positional[0];
      if (!audience) throw new UsageError('name the API: apis remove AUDIENCE');
      if (!(await ctx.store.apis.remove(audience))) throw new Error(`no API "${audience}"`);
      ctx.audit('api.removed', { outcome: 'success', audience });
      return print({ removed: true, audience }, json, () => `removed API ${audience}`);
    }
    default:
      throw new UsageError(`unknown command "apis ${verb ?? ''}" (add, list, show, remove)`);
  }
}
