import { createKeyService } from '../../keys/key-service.js';
import type { Args } from '../args.js';
import { UsageError, type CliContext } from '../context.js';
import { iso, print, table } from '../output.js';

export async function keys(ctx: CliContext, verb: string | undefined, args: Args): Promise<void> {
  const json = args.flag('json');
  const service = createKeyService(ctx);
  switch (verb) {
    case 'list': {
      const all = (await service.list()).map((k) => ({
        kid: k.kid,
        alg: k.alg,
        status: k.status,
        created_at: iso(k.createdAt),
        retired_at: iso(k.retiredAt),
        published_until: iso(k.publishedUntil),
      }));
      return print(ctx.io, { keys: all }, json, () => table(all, ['kid', 'alg', 'status', 'created_at', 'published_until']));
    }
    case 'rotate': {
      const { fresh, keepSeconds, cookieKeepSeconds } = await service.rotate({ cookies: args.flag('cookies') });
      ctx.audit('keys.rotated', { outcome: 'success', kids: fresh.map((k) => k.kid), cookies: !!cookieKeepSeconds });
      const result = {
        rotated: fresh,
        old_keys_published_for_seconds: keepSeconds,
        ...(cookieKeepSeconds ? { old_cookie_keys_kept_for_seconds: cookieKeepSeconds } : {}),
        nodes_pick_up_within_seconds: ctx.config.keys.refreshSeconds,
      };
      return print(ctx.io, result, json, () =>
        [
          `new signing keys: ${fresh.map((k) => `${k.alg} ${k.kid}`).join(', ')}`,
          `old keys stay published (verify only) for ${keepSeconds}s; running nodes switch within ${ctx.config.keys.refreshSeconds}s`,
        ].join('\n'),
      );
    }
    default:
      throw new UsageError(`unknown command "keys ${verb ?? ''}" (list, rotate)`);
  }
}
