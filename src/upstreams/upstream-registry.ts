import { seal, unseal } from '../keys/key-encryption.js';
import type { UpstreamPreset, UpstreamRecord, UpstreamStore } from '../storage/types.js';
import { applePrivateKey, ApplePrivateKeyError } from './apple-client-secret.js';
import { mappableClaims } from './profile.js';
import { presetNames, presets, speaksOpenIdConnect, type PresetDef } from './presets.js';

export class UpstreamInputError extends Error {
  readonly code = 'ERR_UPSTREAM_INPUT';
}

/** What an operator gives to add an upstream; `update` takes any part of it. */
export interface UpstreamInput {
  id?: string | undefined;
  name: string;
  preset?: UpstreamPreset | undefined;
  issuer?: string | undefined;
  clientId: string;
  /** every preset's but apple's */
  clientSecret?: string | undefined;
  /** apple's: the team's Sign in with Apple private key (PKCS#8 PEM), which signs its client secrets */
  privateKey?: string | undefined;
  scope?: string | undefined;
  buttonLabel?: string | null | undefined;
  linkByVerifiedEmail?: boolean | undefined;
  jit?: boolean | undefined;
  claimMap?: Record<string, string> | undefined;
  settings?: Record<string, string> | undefined;
}

export type UpstreamChanges = Partial<Omit<UpstreamInput, 'id' | 'preset'>>;

const idPattern = /^[a-z0-9][a-z0-9-]{0,39}$/;
const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `Acme SSO` → `acme-sso` */
export const slugOf = (name: string) =>
  name.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'upstream';

/** https, or http to this machine only (a test or development upstream); no credentials, query or fragment. */
function checkUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UpstreamInputError(`${what} must be a URL like https://login.example.com`);
  }
  const loopback = url.protocol === 'http:' && loopbackHosts.has(url.hostname);
  if (url.protocol !== 'https:' && !loopback) throw new UpstreamInputError(`${what} must use https (http only to localhost)`);
  if (url.username || url.password || url.search || url.hash) throw new UpstreamInputError(`${what} must not carry credentials, a query or a fragment`);
  return value.replace(/\/+$/, '');
}

/** Whether idport may talk plain http to this upstream (its issuer is on this machine). */
export const isLoopback = (upstream: Pick<UpstreamRecord, 'issuer'>) => {
  const url = new URL(upstream.issuer);
  return url.protocol === 'http:' && loopbackHosts.has(url.hostname);
};

function checkClaimMap(map: Record<string, string>): Record<string, string> {
  for (const [ours, theirs] of Object.entries(map)) {
    if (!mappableClaims.includes(ours)) throw new UpstreamInputError(`claim map: "${ours}" is not a claim idport maps (${mappableClaims.join(', ')})`);
    if (typeof theirs !== 'string' || !/^[\w.:-]{1,100}$/.test(theirs)) throw new UpstreamInputError(`claim map: "${ours}" must name the upstream's claim (letters, digits, _ . : -)`);
  }
  return { ...map };
}

/** The preset's secrets, checked: a client secret, or (apple) the private key. */
function secretsOf(def: PresetDef, preset: UpstreamPreset, input: UpstreamInput): Record<string, string> {
  if (def.secret === 'privateKey') {
    if (input.clientSecret !== undefined) throw new UpstreamInputError(`the ${preset} preset signs its own client secrets: give --private-key-file, --team-id and --key-id, not --client-secret`);
    try {
      applePrivateKey(input.privateKey);
    } catch (err) {
      if (err instanceof ApplePrivateKeyError) throw new UpstreamInputError(err.message);
      throw err;
    }
    return { privateKey: input.privateKey!.trim() };
  }
  if (input.privateKey !== undefined) throw new UpstreamInputError(`the ${preset} preset takes a client secret, not a private key`);
  return { clientSecret: checkText(input.clientSecret, 'client secret', 4096) };
}

function checkText(value: string | undefined, what: string, max: number): string {
  const text = value?.trim() ?? '';
  if (!text) throw new UpstreamInputError(`${what} is required`);
  if (text.length > max) throw new UpstreamInputError(`${what} is longer than ${max} characters`);
  return text;
}

/**
 * The upstream providers operators configure (CLI, later the admin API): their rules checked
 * here, their client secrets sealed under IDPORT_KEK when it is set.
 */
export function createUpstreamRegistry(upstreams: UpstreamStore, kek: Uint8Array | undefined) {
  const build = async (input: UpstreamInput, existing?: UpstreamRecord): Promise<Omit<UpstreamRecord, 'createdAt' | 'updatedAt'>> => {
    const preset = input.preset ?? 'oidc';
    const def = presets[preset];
    if (!def) throw new UpstreamInputError(`--preset ${preset} is not a preset (${presetNames.join(', ')})`);
    const issuerGiven = input.issuer ?? def.issuer;
    if (!issuerGiven) throw new UpstreamInputError('--issuer is required (the upstream\'s issuer URL, as in its /.well-known/openid-configuration)');
    const scope = (input.scope ?? def.scope).split(/\s+/).filter(Boolean);
    if (speaksOpenIdConnect(def) && !scope.includes('openid')) throw new UpstreamInputError('scope must include openid for an OpenID Connect upstream');
    const settings = { ...def.settings, ...input.settings };
    for (const [key, value] of Object.entries(settings)) {
      if (!(key in def.settings)) throw new UpstreamInputError(`setting "${key}" is not one of the ${preset} preset's (${Object.keys(def.settings).join(', ') || 'none'})`);
      if (key.endsWith('Url')) settings[key] = checkUrl(value, key);
    }
    const issuer = checkUrl(issuerGiven, 'issuer');
    const problem = def.check?.(issuer, settings);
    if (problem) throw new UpstreamInputError(problem);
    const label = input.buttonLabel?.trim();
    if (label && label.length > 60) throw new UpstreamInputError('the button label is longer than 60 characters');
    return {
      id: existing?.id ?? input.id ?? slugOf(input.name),
      name: checkText(input.name, 'name', 80),
      preset,
      issuer,
      clientId: checkText(input.clientId, 'client id', 255),
      secrets: await seal(secretsOf(def, preset, input), kek),
      scope: [...new Set(scope)].join(' '),
      buttonLabel: label || null,
      linkByVerifiedEmail: input.linkByVerifiedEmail ?? false,
      jit: input.jit ?? true,
      claimMap: checkClaimMap(input.claimMap ?? {}),
      settings,
    };
  };

  return {
    async add(input: UpstreamInput): Promise<UpstreamRecord> {
      const record = await build(input);
      if (!idPattern.test(record.id)) throw new UpstreamInputError('--id must be 1-40 lowercase letters, digits or -, starting with a letter or digit');
      if (await upstreams.find(record.id)) throw new UpstreamInputError(`an upstream "${record.id}" exists already (give another --id, or update it)`);
      await upstreams.upsert(record);
      return (await upstreams.find(record.id))!;
    },

    /** Changes some settings (the others stay); the secrets stay unless new ones are given. */
    async update(id: string, changes: UpstreamChanges): Promise<UpstreamRecord | undefined> {
      const existing = await upstreams.find(id);
      if (!existing) return undefined;
      const kept = definedOnly(await unseal(existing.secrets, kek)) as { clientSecret?: string; privateKey?: string };
      const secrets = changes.clientSecret !== undefined || changes.privateKey !== undefined ? definedOnly({ clientSecret: changes.clientSecret, privateKey: changes.privateKey }) : kept;
      const settings = { ...existing.settings, ...changes.settings };
      const record = await build({ ...existing, ...definedOnly(changes), clientSecret: undefined, privateKey: undefined, ...secrets, settings }, existing);
      await upstreams.upsert(record);
      return upstreams.find(id);
    },

    find: (id: string) => (idPattern.test(id) ? upstreams.find(id) : Promise.resolve(undefined)),
    list: () => upstreams.list(),
    remove: (id: string) => upstreams.remove(id),

    /** The client secret to present at the upstream. */
    async clientSecret(upstream: UpstreamRecord): Promise<string> {
      return String((await unseal(upstream.secrets, kek)).clientSecret);
    },

    /** Apple's: the team's private key (PEM), which signs the client secrets idport presents there. */
    async privateKey(upstream: UpstreamRecord): Promise<string> {
      return String((await unseal(upstream.secrets, kek)).privateKey);
    },
  };
}

const definedOnly = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;

export type UpstreamRegistry = ReturnType<typeof createUpstreamRegistry>;

/** What `list`/`show` (and pages) may say of an upstream: never its secrets. */
export function upstreamSummary(u: UpstreamRecord) {
  const { secrets, ...rest } = u;
  return { ...rest, secret_sealed: typeof secrets.jwe === 'string', redirect_path: `/upstream/${u.id}/callback` };
}
