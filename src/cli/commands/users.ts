
import type { EndedSignIns } from '../../accounts/sign-ins.js';
import { factorsView } from '../../factors/factors-view.js';
import type { AccountRecord } from '../../storage/types.js';
import { UsageError, type CliContext } from '../context.js';
import { stdinSecret } from '../io.js';
import { iso, print, table } from '../output.js';
import type { Args } from '../args.js';

const publicView = (a: AccountRecord) => ({
  sub: a.id,
  username: a.username,
  email: a.email,
  email_verified: a.emailVerified,
  name: a.name,
  claims: a.claims,
  created_at: iso(a.createdAt),
  updated_at: iso(a.updatedAt),
});

function passwordFrom(ctx: CliContext, args: Args): string {
  if (args.flag('password-stdin')) return stdinSecret(ctx.io);
  const password = args.string('password');
  if (password === undefined) throw new UsageError('--password (or --password-stdin) is required');
  return password;
}

async function findUser(ctx: CliContext, ref: string | undefined): Promise<AccountRecord> {
  if (!ref) throw new UsageError('name the user: a username, email or sub');
  const account = (await ctx.store.accounts.findById(ref)) ?? (await ctx.store.accounts.findByLogin(ref));
  if (!account) throw new Error(`no user "${ref}"`);
  return account;
}

function parseClaims(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new UsageError('--claims must be a JSON object, e.g. \'{"given_name":"Alice"}\'');
  }
}

/** What a credential change ended, for --json and audit lines. */
const endedFields = (ended: EndedSignIns) => ({ sessions_ended: ended.sessions, grants_revoked: ended.grants });

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
const endedText = (ended: EndedSignIns) =>
  `ended ${plural(ended.sessions, 'session')} and revoked ${plural(ended.grants, 'app sign-in')} (their refresh and opaque access tokens; JWT access tokens run until they expire)`;

/** The back-channel logout tokens sent to the apps of the ended sessions: the `logout_tokens` field, and a sentence when there were any. */
async function logoutTokens(ctx: CliContext) {
  const sent = await ctx.sendLogoutTokens();
  const total = sent.delivered + sent.failed + sent.gave_up;
  const text = total ? `; logout tokens to apps: ${sent.delivered} delivered, ${sent.failed + sent.gave_up} not delivered` : '';
  return { fields: { logout_tokens: sent }, text };
}

export async function users(ctx: CliContext, verb: string | undefined, args: Args): Promise<void> {
  const json = args.flag('json');
  switch (verb) {
    case 'add': {
      const username = args.string('username');
      if (!username) throw new UsageError('--username is required');
      const account = await ctx.accounts.create({
        username,
        password: passwordFrom(ctx, args),
        email: args.string('email'),
        name: args.string('name'),
        emailVerified: args.flag('email-verified'),
        claims: parseClaims(args.string('claims')),
      });
      ctx.audit('user.added', { outcome: 'success', sub: account.id, username: account.username });
      return print(ctx.io, publicView(account), json, () => `added user ${account.username} (sub ${account.id})`);
    }
    case 'list': {
      const all = (await ctx.store.accounts.list()).map(publicView);
      return print(ctx.io, { users: all }, json, () => table(all, ['username', 'email', 'name', 'sub']));
    }
    case 'show': {
      const account = await findUser(ctx, args.positional[0]);
      const view = { ...publicView(account), factors: factorsView(await ctx.factors.summary(account.id)) };
      return print(ctx.io, view, json, () => Object.entries(view).map(([k, v]) => `${k}: ${typeof v === 'object' && v ? JSON.stringify(v) : v ?? '-'}`).join('\n'));
    }
    case 'reset-mfa': {
      const account = await findUser(ctx, args.positional[0]);
      const ended = (await ctx.accounts.resetFactors(account.id)) ?? { sessions: 0, grants: 0 };
      ctx.audit('user.mfa_reset', { outcome: 'success', sub: account.id, username: account.username, ...endedFields(ended) });
      const tokens = await logoutTokens(ctx);
      return print(ctx.io, { reset: true, sub: account.id, username: account.username, ...endedFields(ended), ...tokens.fields }, json, () =>
        `removed every passkey, authenticator app and recovery code of ${account.username}; ${endedText(ended)}${tokens.text}`,
      );
    }
    case 'remove': {
      const account = await findUser(ctx, args.positional[0]);
      const ended = (await ctx.accounts.remove(account.id)) ?? { sessions: 0, grants: 0 };
      ctx.audit('user.removed', { outcome: 'success', sub: account.id, username: account.username, ...endedFields(ended) });
      const tokens = await logoutTokens(ctx);
      return print(ctx.io, { removed: true, sub: account.id, username: account.username, ...endedFields(ended), ...tokens.fields }, json, () =>
        `removed user ${account.username}; ${endedText(ended)}${tokens.text}`,
      );
    }
    case 'set-password': {
      const account = await findUser(ctx, args.positional[0]);
      const ended = (await ctx.accounts.setPassword(account.id, passwordFrom(ctx, args))) ?? { sessions: 0, grants: 0 };
      ctx.audit('user.password_set', { outcome: 'success', sub: account.id, username: account.username, ...endedFields(ended) });
      const tokens = await logoutTokens(ctx);
      return print(ctx.io, { updated: true, sub: account.id, username: account.username, ...endedFields(ended), ...tokens.fields }, json, () =>
        `password changed for ${account.username}; ${endedText(ended)}${tokens.text}`,
      );
    }
    default:
      throw new UsageError(`unknown command "users ${verb ?? ''}" (add, list, show, remove, set-password, reset-mfa)`);
  }
}
