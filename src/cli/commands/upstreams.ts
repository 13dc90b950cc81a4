import { readFileSync } from 'node:fs';

import type { UpstreamPreset } from '../../storage/types.js';
import { createUpstreamRegistry, upstreamSummary, UpstreamInputError, type UpstreamChanges } from '../../upstreams/upstream-registry.js';
import type { Args } from '../args.js';
import { UsageError, type CliContext } from '../context.js';
import { stdinSecret } from '../io.js';
import { print, table } from '../output.js';

/** A yes/no option given as --x or --no-x; undefined when neither, a usage error when both. */
function toggle(args: Args, name: string): boolean | undefined {
  const on = args.flag(name);
  const off = args.flag(`no-${name}`);
  if (on && off) throw new UsageError(`--${name} and --no-${name} contradict each other`);
  return on ? true : off ? false : undefined;
}

function claimMapFrom(args: Args): Record<string, string> | undefined {
  const raw = args.string('claim-map');
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UsageError('--claim-map must be JSON, e.g. \'{"name":"display_name"}\'');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('--claim-map must be a JSON object of our claim to theirs');
  return parsed as Record<string, string>;
}

function secretFrom(ctx: CliContext, args: Args): string | undefined {
  if (args.flag('client-secret-stdin')) return stdinSecret(ctx.io);
  return args.string('client-secret');
}

/** Apple's .p8 private key, read from --private-key-file (never given on the command line). */
function privateKeyFrom(args: Args): string | undefined {
  const path = args.string('private-key-file');
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--private-key-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The preset settings given: --api-url, --tenant, --team-id, --key-id. */
function settingsFrom(args: Args): Record<string, string> | undefined {
  const given = Object.entries({ apiUrl: args.string('api-url'), tenant: args.string('tenant'), teamId: args.string('team-id'), keyId: args.string('key-id') }).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return given.length ? Object.fromEntries(given) : undefined;
}

/** What the options change; each only when given. */
function changesFrom(ctx: CliContext, args: Args): UpstreamChanges {
  const scope = args.list('scope').flatMap((s) => s.split(/\s+/)).filter(Boolean);
  return {
    name: args.string('name'),
    issuer: args.string('issuer'),
    clientId: args.string('client-id'),
    clientSecret: secretFrom(ctx, args),
    privateKey: privateKeyFrom(args),
    scope: scope.length ? scope.join(' ') : undefined,
    buttonLabel: args.string('button-label'),
    linkByVerifiedEmail: toggle(args, 'link-by-verified-email'),
    jit: toggle(args, 'jit'),
    claimMap: claimMapFrom(args),
    settings: settingsFrom(args),
  };
}

const describe = (u: ReturnType<typeof upstreamSummary>, issuer: string) =>
  [
    `id:                     ${u.id}`,
    `name:                   ${u.name}${u.buttonLabel ? ` (button: ${u.buttonLabel})` : ''}`,
    `preset:                 ${u.preset}`,
    `issuer:                 ${u.issuer}`,
    `client id:              ${u.clientId}`,
    `${u.preset === 'apple' ? 'private key:            ' : 'client secret:          '}stored${u.secret_sealed ? ', sealed under IDPORT_KEK' : ''} (never shown)`,
    `scope:                  ${u.scope}`,
    `just-in-time accounts:  ${u.jit ? 'yes' : 'no'}`,
    `link by verified email: ${u.linkByVerifiedEmail ? 'yes (trusted upstream)' : 'no (the user proves the account first)'}`,
    ...(Object.keys(u.claimMap).length ? [`claim map:              ${JSON.stringify(u.claimMap)}`] : []),
    ...Object.entries(u.settings).map(([k, v]) => `${`${k}:`.padEnd(24)}${v}`),
    `redirect URI:           ${issuer}${u.redirect_path}   (register this at the upstream)`,
  ].join('\n');

export async function upstreams(ctx: CliContext, verb: string | undefined, args: Args): Promise<void> {
  const json = args.flag('json');
  const registry = createUpstreamRegistry(ctx.store.upstreams, ctx.kek);
  const { issuer } = ctx.config;
  const withRedirect = (s: ReturnType<typeof upstreamSummary>) => ({ ...s, redirect_uri: `${issuer}${s.redirect_path}` });
  try {
    switch (verb) {
      case 'add': {
        const changes = changesFrom(ctx, args);
        if (!changes.name) throw new UsageError('--name is required');
        if (!changes.clientId) throw new UsageError('--client-id is required');
        const preset = args.string('preset') as UpstreamPreset | undefined;
        if (preset === 'apple' && !changes.privateKey) throw new UsageError('--private-key-file is required for apple (the .p8 key of Sign in with Apple), with --team-id and --key-id');
        if (preset !== 'apple' && !changes.clientSecret) throw new UsageError('--client-secret (or --client-secret-stdin) is required');
        const added = await registry.add({
          ...changes,
          name: changes.name,
          clientId: changes.clientId,
          id: args.string('id'),
          preset,
        });
        ctx.audit('upstream.added', { outcome: 'success', upstream: added.id, preset: added.preset, issuer: added.issuer });
        const view = withRedirect(upstreamSummary(added));
        return print(ctx.io, view, json, () => `added upstream "${added.name}"\n${describe(view, issuer)}`);
      }
      case 'update': {
        const id = args.positional[0];
        if (!id) throw new UsageError('name the upstream: upstreams update ID [options]');
        if (args.string('id') !== undefined || args.string('preset') !== undefined) throw new UsageError('--id and --preset cannot change; remove the upstream and add it again');
        const changes = changesFrom(ctx, args);
        if (Object.values(changes).every((v) => v === undefined)) throw new UsageError('say what to change (--name, --issuer, --client-secret, --private-key-file, --jit, ...)');
        const updated = await registry.update(id, changes);
        if (!updated) throw new Error(`no upstream "${id}"`);
        const changed = Object.keys(changes).filter((k) => changes[k as keyof UpstreamChanges] !== undefined);
        ctx.audit('upstream.updated', { outcome: 'success', upstream: id, changed });
        const view = withRedirect(upstreamSummary(updated));
        return print(ctx.io, view, json, () => `updated upstream ${id}\n${describe(view, issuer)}`);
      }
      case 'list': {
        const all = (await registry.list()).map((u) => withRedirect(upstreamSummary(u)));
        return print(ctx.io, { upstreams: all }, json, () =>
          all.length ? table(all.map((u) => ({ ...u, jit: u.jit ? 'yes' : 'no' })), ['id', 'name', 'preset', 'issuer', 'jit']) : 'no upstreams (add one: idport upstreams add --name N --issuer URL --client-id ID --client-secret S)');
      }
      case 'show': {
        const id = args.positional[0];
        if (!id) throw new UsageError('name the upstream: upstreams show ID');
        const found = await registry.find(id);
        if (!found) throw new Error(`no upstream "${id}"`);
        const view = withRedirect(upstreamSummary(found));
        return print(ctx.io, view, json, () => describe(view, issuer));
      }
      case 'remove': {
        const id = args.positional[0];
        if (!id) throw new UsageError('name the upstream: upstreams remove ID');
        if (!(await registry.remove(id))) throw new Error(`no upstream "${id}"`);
        ctx.audit('upstream.removed', { outcome: 'success', upstream: id });
        return print(ctx.io, { removed: true, id }, json, () => `removed upstream ${id} and every account's link to it`);
      }
      default:
        throw new UsageError(`unknown command "upstreams ${verb ?? ''}" (add, update, list, show, remove)`);
    }
  } catch (err) {
    if (err instanceof UpstreamInputError) throw new UsageError(err.message);
    throw err;
  }
}
