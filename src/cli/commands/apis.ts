import { ApiInputError, apiView as view, type NewApi } from '../../apis/api-registry.js';
import type { ApiRecord } from '../../storage/types.js';
import type { Args } from '../args.js';
import { UsageError, type CliContext } from '../context.js';
import { print, table } from '../output.js';

/** The registration as typed; the API rules (src/apis/api-registry.ts) check it. */
function apiFromArgs(args: Args): NewApi {
  const audience = args.string('audience');
  if (!audience) throw new UsageError('--audience is required (e.g. https://api.example.com)');
  const scopes = [...new Set(args.list('scope').flatMap((s) => s.split(/\s+/)).filter(Boolean))];
  const ttlText = args.string('ttl');
  const tokenFormat = (args.string('token-format') ?? 'jwt') as NewApi['tokenFormat'];
  return { audience, name: args.string('name') ?? null, scopes, tokenFormat, accessTokenTtl: ttlText === undefined ? null : Number(ttlText) };
}

export async function apis(ctx: CliContext, verb: string | undefined, args: Args): Promise<void> {
  const json = args.flag('json');
  switch (verb) {
    case 'add': {
      let stored: ApiRecord;
      try {
        stored = await ctx.apis.register(apiFromArgs(args));
      } catch (err) {
        if (err instanceof ApiInputError) throw new UsageError(err.message);
        throw err;
      }
      ctx.audit('api.added', { outcome: 'success', audience: stored.audience, scopes: stored.scopes });
      return print(ctx.io, view(stored), json, () => `added API ${stored.audience} (${stored.tokenFormat} access tokens; scopes: ${stored.scopes.join(' ') || '-'})`);
    }
    case 'list': {
      const all = (await ctx.apis.list()).map(view);
      return print(ctx.io, { apis: all }, json, () => table(all.map((a) => ({ ...a, scopes: a.scopes.join(' ') })), ['audience', 'name', 'token_format', 'scopes']));
    }
    case 'show': {
      const audience = args.positional[0];
      if (!audience) throw new UsageError('name the API: apis show AUDIENCE');
      const api = await ctx.apis.find(audience);
      if (!api) throw new Error(`no API "${audience}"`);
      const v = view(api);
      return print(ctx.io, v, json, () => Object.entries(v).map(([k, x]) => `${k}: ${Array.isArray(x) ? x.join(' ') : String(x ?? '-')}`).join('\n'));
    }
    case 'remove': {
      const audience = args.positional[0];
      if (!audience) throw new UsageError('name the API: apis remove AUDIENCE');
      if (!(await ctx.apis.remove(audience))) throw new Error(`no API "${audience}"`);
      ctx.audit('api.removed', { outcome: 'success', audience });
      return print(ctx.io, { removed: true, audience }, json, () => `removed API ${audience}`);
    }
    default:
      throw new UsageError(`unknown command "apis ${verb ?? ''}" (add, list, show, remove)`);
  }
}
