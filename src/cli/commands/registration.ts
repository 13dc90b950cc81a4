import { createInitialAccessTokens, parseDuration } from '../../registration/initial-access-tokens.js';
import type { RegistrationTokenRecord } from '../../storage/types.js';
import type { Args } from '../args.js';
import { UsageError, type CliContext } from '../context.js';
import { iso, print, table } from '../output.js';

const defaultTtlSeconds = 24 * 3600;

const view = (t: RegistrationTokenRecord) => ({
  id: t.id,
  uses: t.maxUses,
  used: t.used,
  created_at: iso(t.createdAt),
  expires_at: iso(t.expiresAt),
});

function mintOptions(args: Args) {
  const ttlText = args.string('ttl');
  const ttlSeconds = ttlText === undefined ? defaultTtlSeconds : parseDuration(ttlText);
  if (ttlSeconds === undefined) throw new UsageError(`--ttl ${ttlText} is not a duration (e.g. 3600, 90s, 30m, 12h, 7d)`);
  const usesText = args.string('uses');
  const uses = usesText === undefined ? undefined : Number(usesText);
  if (uses !== undefined && !(Number.isSafeInteger(uses) && uses > 0 && /^\d+$/.test(usesText!))) throw new UsageError(`--uses ${usesText} must be a positive whole number`);
  return { ttlSeconds, uses };
}

/** `idport registration token create|list|revoke`: initial access tokens for dynamic client registration. */
export async function registration(ctx: CliContext, verb: string | undefined, args: Args): Promise<void> {
  if (verb !== 'token') throw new UsageError(`unknown command "registration ${verb ?? ''}" (registration token create|list|revoke)`);
  const json = args.flag('json');
  const tokens = createInitialAccessTokens(ctx.store.registrationTokens);
  const [action, id] = args.positional;
  switch (action) {
    case 'create': {
      const { token, record } = await tokens.mint(mintOptions(args));
      ctx.audit('registration_token.created', { outcome: 'success', token_id: record.id, uses: record.maxUses, expires_at: iso(record.expiresAt) });
      const notice = ctx.config.registration.mode === 'initial-access-token' ? undefined : `note: registration.mode is "${ctx.config.registration.mode}"; the token is used only in "initial-access-token" mode`;
      if (notice) ctx.io.stderr(`idport: ${notice}\n`);
      return print(ctx.io, { token, ...view(record) }, json, () =>
        [
          `initial access token ${record.id} (${record.maxUses === null ? 'any number of registrations' : `${record.maxUses} registration${record.maxUses === 1 ? '' : 's'}`}, until ${iso(record.expiresAt)}):`,
          token,
          '(shown once here; send it as "Authorization: Bearer …" to the registration endpoint)',
        ].join('\n'),
      );
    }
    case 'list': {
      const all = (await tokens.list()).map(view);
      return print(ctx.io, { tokens: all }, json, () => table(all, ['id', 'uses', 'used', 'created_at', 'expires_at']));
    }
    case 'revoke': {
      if (!id) throw new UsageError('name the token: registration token revoke ID (see registration token list)');
      if (!(await tokens.revoke(id))) throw new Error(`no registration token "${id}"`);
      ctx.audit('registration_token.revoked', { outcome: 'success', token_id: id });
      return print(ctx.io, { revoked: true, id }, json, () => `revoked registration token ${id}`);
    }
    default:
      throw new UsageError(`unknown command "registration token ${action ?? ''}" (create, list, revoke)`);
  }
}
