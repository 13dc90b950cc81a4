import type { ClientMetadata } from '../../storage/types.js';
import type { Args } from '../args.js';
import { UsageError, type CliContext } from '../context.js';
import { print, table } from '../output.js';
import { deviceCodeGrant, supportedGrantTypes, tokenExchangeGrant } from '../../clients/client-policy.js';
import { isOrigin } from '../../clients/redirect-policy.js';
import { clientSummary, newClientId, newClientSecret } from '../../clients/client-service.js';
import { adminScopes } from '../../admin/admin-api.js';
import { supportedScopes } from '../../provider/claims.js';

const deviceCode = deviceCodeGrant;
const tokenExchange = tokenExchangeGrant;
const grantTypes = new Set(supportedGrantTypes);
const grantAliases: Record<string, string> = { device_code: deviceCode, 'token-exchange': tokenExchange, token_exchange: tokenExchange };

/** Builds client metadata from the command line; the client policy checks it before it is stored. */
export function clientFromArgs(args: Args): ClientMetadata {
  const name = args.string('name');
  if (!name) throw new UsageError('--name is required');
  const grants = args.list('grant-type').map((g) => grantAliases[g] ?? g);
  for (const g of grants) {
    if (!grantTypes.has(g)) throw new UsageError(`--grant-type ${g} is not supported (${[...grantTypes].join(', ')})`);
  }
  const grant_types = grants.length ? [...new Set(grants)] : ['authorization_code', 'refresh_token'];
  const interactive = grant_types.includes('authorization_code');
  const redirect_uris = args.list('redirect-uri');
  const webOrigins = args.list('web-origin');
  for (const origin of webOrigins) {
    if (!isOrigin(origin)) throw new UsageError(`--web-origin ${origin} must be an origin like https://app.example.com (no path)`);
  }
  const audience = args.string('audience');
  if (interactive && !redirect_uris.length) throw new UsageError('--redirect-uri is required for a client that signs users in');
  if (!interactive && redirect_uris.length) throw new UsageError('--redirect-uri needs --grant-type authorization_code');
  const isPublic = args.flag('public');
  if (isPublic && grant_types.includes('client_credentials')) {
    throw new UsageError('a --public client has no secret and cannot use client_credentials');
  }
  if (isPublic && grant_types.includes(tokenExchange)) throw new UsageError('a --public client has no secret and cannot use token exchange');
  const impersonation = args.flag('allow-impersonation');
  if (impersonation && !grant_types.includes(tokenExchange)) throw new UsageError('--allow-impersonation needs --grant-type token-exchange');
  // OpenID scopes limit `scope`; anything else is an API scope the client may be granted.
  const requested = [...new Set(args.list('scope').flatMap((s) => s.split(/\s+/)).filter(Boolean))];
  const scope = requested.filter((s) => supportedScopes.includes(s));
  // --admin-scope users:write is the admin API's scope admin:users:write (src/admin/admin-api.ts)
  const adminGiven = args.list('admin-scope').flatMap((s) => s.split(/\s+/)).filter(Boolean).map((s) => (s.startsWith('admin:') ? s : `admin:${s}`));
  for (const s of adminGiven) {
    if (!(adminScopes as readonly string[]).includes(s)) throw new UsageError(`--admin-scope ${s.slice('admin:'.length)} is not an admin scope (${adminScopes.map((a) => a.slice('admin:'.length)).join(', ')})`);
  }
  if (adminGiven.length && !grant_types.includes('client_credentials')) throw new UsageError('--admin-scope needs --grant-type client_credentials (admin tokens are for clients, not users)');
  const apiScopes = [...new Set([...requested.filter((s) => !supportedScopes.includes(s)), ...adminGiven])];
  // For OpenID certification and RPs that rely on the nonce: confidential clients only.
  const pkceOptional = args.flag('pkce-optional');
  if (pkceOptional && isPublic) throw new UsageError('a --public client must use PKCE; --pkce-optional is for confidential clients');
  if (pkceOptional && !interactive) throw new UsageError('--pkce-optional needs --grant-type authorization_code');

  return {
    client_id: newClientId(),
    ...(isPublic ? { token_endpoint_auth_method: 'none' } : { client_secret: newClientSecret() }),
    client_name: name,
    grant_types,
    response_types: interactive ? ['code'] : [],
    redirect_uris,
    ...(args.list('post-logout-redirect-uri').length ? { post_logout_redirect_uris: args.list('post-logout-redirect-uri') } : {}),
    ...(scope.length ? { scope: scope.join(' ') } : {}),
    ...(apiScopes.length ? { api_scopes: apiScopes } : {}),
    ...(pkceOptional ? { require_pkce: false } : {}),
    ...(args.flag('first-party') ? { first_party: true } : {}),
    ...(args.flag('require-mfa') ? { require_mfa: true } : {}),
    // RFC 8693: its token exchanges give tokens for the user with no `act` (see provider/token-exchange.ts)
    ...(impersonation ? { allow_impersonation: true } : {}),
    // RFC 9126 §6: its authorization requests only through PAR; RFC 9449 §5.2: only DPoP-bound access tokens
    ...(args.flag('require-par') ? { require_pushed_authorization_requests: true } : {}),
    ...(args.flag('require-dpop') ? { dpop_bound_access_tokens: true } : {}),
    ...(webOrigins.length ? { web_origins: [...new Set(webOrigins)] } : {}),
    ...(audience ? { default_audience: audience } : {}),
    ...(args.list('introspect-for').length ? { introspect_for: [...new Set(args.list('introspect-for'))] } : {}),
    ...backchannelFromArgs(args),
  };
}

/** Back-Channel Logout 1.0: where idport POSTs logout tokens, and whether they must carry sid (client-policy.ts checks both). */
const backchannelFromArgs = (args: Args): Record<string, unknown> => ({
  ...(args.string('backchannel-logout-uri') ? { backchannel_logout_uri: args.string('backchannel-logout-uri') } : {}),
  ...(args.flag('backchannel-logout-session-required') ? { backchannel_logout_session_required: true } : {}),
});

/** `clients update` switches: option, client metadata, and what each way means. */
const toggles: [string, string, string, string][] = [
  ['require-mfa', 'require_mfa', 'every sign-in needs a second factor', 'a second factor only where the user set one up'],
  ['require-par', 'require_pushed_authorization_requests', 'authorization requests only through PAR (/request)', 'plain authorization requests accepted too'],
  ['require-dpop', 'dpop_bound_access_tokens', 'access tokens only DPoP-bound', 'bearer access tokens allowed'],
  ['allow-impersonation', 'allow_impersonation', 'token exchanges impersonate the user (no act claim)', 'token exchanges name it as the actor (act)'],
  ['backchannel-logout-session-required', 'backchannel_logout_session_required', 'logout tokens must carry sid', 'logout tokens need not carry sid'],
];

/** `clients update --backchannel-logout-uri URL | --no-backchannel-logout-uri`: what it changed, said. */
function updateBackchannelUri(args: Args, updated: ClientMetadata): string[] {
  const uri = args.string('backchannel-logout-uri');
  const none = args.flag('no-backchannel-logout-uri');
  if (uri && none) throw new UsageError('--backchannel-logout-uri and --no-backchannel-logout-uri contradict each other');
  if (uri) updated.backchannel_logout_uri = uri;
  if (none) {
    delete updated.backchannel_logout_uri;
    delete updated.backchannel_logout_session_required;
  }
  return uri ? [`logout tokens go to ${uri}`] : none ? ['no back-channel logout'] : [];
}

/** What `list` and `show` print: never the secret. */
const summary = clientSummary;

export async function clients(ctx: CliContext, verb: string | undefined, args: Args): Promise<void> {
  const json = args.flag('json');
  switch (verb) {
    case 'add': {
      const metadata = clientFromArgs(args);
      const audiences = [metadata.default_audience, ...((metadata.introspect_for as string[] | undefined) ?? [])];
      for (const audience of audiences) {
        if (typeof audience === 'string' && !(await ctx.apis.find(audience))) {
          throw new UsageError(`${audience} is not a registered API (idport apis add first)`);
        }
      }
      try {
        ctx.validateClient(metadata);
      } catch (err) {
        throw new UsageError(`invalid client: ${(err as Error).message}`);
      }
      await ctx.store.clients.upsert(metadata);
      ctx.audit('client.added', { outcome: 'success', client_id: metadata.client_id, client_name: metadata.client_name });
      return print(ctx.io, metadata, json, () =>
        [
          `added client "${metadata.client_name}"`,
          `client_id:     ${metadata.client_id}`,
          metadata.client_secret ? `client_secret: ${metadata.client_secret}  (shown once here; keep it secret)` : 'public client: no secret, PKCE required',
        ].join('\n'),
      );
    }
    case 'update': {
      const id = args.positional[0];
      if (!id) throw new UsageError('name the client: clients update CLIENT_ID (--require-mfa | --require-par | --require-dpop | --allow-impersonation, or their --no- forms)');
      const found = await ctx.store.clients.find(id);
      if (!found) throw new Error(`no client "${id}"`);
      const updated: ClientMetadata = { ...found };
      const said: string[] = [];
      for (const [option, property, on, off] of toggles) {
        const yes = args.flag(option);
        const no = args.flag(`no-${option}`);
        if (yes && no) throw new UsageError(`--${option} and --no-${option} contradict each other`);
        if (!yes && !no) continue;
        if (yes) updated[property] = true;
        else delete updated[property];
        said.push(yes ? on : off);
      }
      said.push(...updateBackchannelUri(args, updated));
      if (!said.length) {
        throw new UsageError('say what to change: --require-mfa, --require-par, --require-dpop, --allow-impersonation, --backchannel-logout-session-required (or their --no- forms), --backchannel-logout-uri URL | --no-backchannel-logout-uri');
      }
      ctx.validateClient(updated);
      await ctx.store.clients.upsert(updated);
      ctx.audit('client.updated', {
        outcome: 'success', client_id: id, require_mfa: updated.require_mfa === true,
        require_par: updated.require_pushed_authorization_requests === true, require_dpop: updated.dpop_bound_access_tokens === true,
        allow_impersonation: updated.allow_impersonation === true,
        backchannel_logout_uri: updated.backchannel_logout_uri, backchannel_logout_session_required: updated.backchannel_logout_session_required === true,
      });
      return print(ctx.io, summary(updated), json, () => `updated client ${id}: ${said.join('; ')}`);
    }
    case 'list': {
      const all = (await ctx.store.clients.list()).map(summary);
      const rows = all.map((c) => ({ ...c, grant_types: ((c as ClientMetadata).grant_types as string[]).join(',') }));
      return print(ctx.io, { clients: all }, json, () => table(rows, ['client_id', 'client_name', 'grant_types', 'public', 'origin']));
    }
    case 'show': {
      const id = args.positional[0];
      if (!id) throw new UsageError('name the client: clients show CLIENT_ID');
      const found = await ctx.store.clients.find(id);
      if (!found) throw new Error(`no client "${id}"`);
      const view = summary(found);
      return print(ctx.io, view, json, () => Object.entries(view).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`).join('\n'));
    }
    case 'remove': {
      const id = args.positional[0];
      if (!id) throw new UsageError('name the client: clients remove CLIENT_ID');
      if (!(await ctx.store.clients.remove(id))) throw new Error(`no client "${id}"`);
      ctx.audit('client.removed', { outcome: 'success', client_id: id });
      return print(ctx.io, { removed: true, client_id: id }, json, () => `removed client ${id}`);
    }
    default:
      throw new UsageError(`unknown command "clients ${verb ?? ''}" (add, update, list, show, remove)`);
  }
}
