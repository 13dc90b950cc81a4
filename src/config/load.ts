import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

import { configSchema, type Config } from './schema.js';

export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;
type Raw = Record<string, unknown>;

/** Environment variables and the config key each one sets. */
export const envKeys: Record<string, { key: string; type: 'string' | 'int' | 'bool' | 'intOrAuto' }> = {
  PORT: { key: 'port', type: 'int' },
  HOST: { key: 'host', type: 'string' },
  ISSUER: { key: 'issuer', type: 'string' },
  DATABASE_URL: { key: 'databaseUrl', type: 'string' },
  LOG_LEVEL: { key: 'logLevel', type: 'string' },
  TRUST_PROXY: { key: 'proxy', type: 'bool' },
  KEY_REFRESH_SECONDS: { key: 'keys.refreshSeconds', type: 'int' },
  WORKERS: { key: 'workers', type: 'intOrAuto' },
  METRICS_PORT: { key: 'metrics.port', type: 'int' },
  SMTP_URL: { key: 'email.smtpUrl', type: 'string' },
  REGISTRATION_MODE: { key: 'registration.mode', type: 'string' },
};

function readJson(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read file (${(err as NodeJS.ErrnoException).code})`]);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('top level must be an object');
    }
    return value as Raw;
  } catch (err) {
    throw new ConfigError([`${path}: not valid JSON (${(err as Error).message})`]);
  }
}

function setPath(target: Raw, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Raw;
  }
  node[parts[parts.length - 1]!] = value;
}

function envOverrides(env: Env, problems: string[]): Raw {
  const out: Raw = {};
  for (const [name, { key, type }] of Object.entries(envKeys)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (type === 'intOrAuto' && value === 'auto') {
      setPath(out, key, value);
    } else if (type === 'int' || type === 'intOrAuto') {
      if (!/^\d+$/.test(value)) {
        problems.push(`${key} (env ${name}): expected an integer${type === 'intOrAuto' ? ' or "auto"' : ''}, received "${value}"`);
        continue;
      }
      setPath(out, key, Number(value));
    } else if (type === 'bool') {
      if (!/^(true|false|1|0)$/.test(value)) {
        problems.push(`${key} (env ${name}): expected true or false, received "${value}"`);
        continue;
      }
      setPath(out, key, value === 'true' || value === '1');
    } else {
      setPath(out, key, value);
    }
  }
  return out;
}

function merge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    const bothObjects =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof prev === 'object' && prev !== null;
    out[k] = bothObjects ? merge(prev as Raw, v as Raw) : v;
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue, fromEnv: Map<string, string>): string {
  const key = issue.path.join('.');
  const env = fromEnv.get(key);
  const path = (key || '(root)') + (env ? ` (env ${env})` : '');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${[...issue.path, k].join('.')}: unknown key`).join('\n  - ');
  }
  return `${path}: ${issue.message}`;
}

/**
 * Builds the configuration: the schema's defaults (src/config/schema.ts, the only place they are
 * written), then the JSON file named by IDPORT_CONFIG, then environment variables; validated
 * once, then frozen.
 */
export function loadConfig(env: Env = process.env, overrides: Raw = {}): Readonly<Config> {
  const problems: string[] = [];
  let raw: Raw = env.IDPORT_CONFIG ? readJson(env.IDPORT_CONFIG) : {};
  raw = merge(raw, envOverrides(env, problems));
  raw = merge(raw, overrides);
  if (problems.length) throw new ConfigError(problems);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const fromEnv = new Map(Object.entries(envKeys).filter(([name]) => env[name]).map(([name, { key }]) => [key, name]));
    throw new ConfigError(parsed.error.issues.map((issue) => describeIssue(issue, fromEnv)));
  }

  const value = parsed.data;
  const issuer = (value.issuer ?? `http://localhost:${value.port}`).replace(/\/+$/, '');
  const production = env.NODE_ENV === 'production';
  return deepFreeze({ ...value, issuer, production, ...emailRules(value, production) });
}

/**
 * Email that cannot reach anyone: in production (NODE_ENV=production) without an SMTP server,
 * sign-up (whose verification mail would only reach the outbox file) is refused, and password
 * reset is turned off with a notice (the one-command start keeps both, with the outbox).
 */
function emailRules(value: Omit<Config, 'issuer' | 'notices' | 'production'>, production: boolean): Pick<Config, 'passwordReset' | 'notices'> {
  if (!production || value.email.smtpUrl) return { passwordReset: value.passwordReset, notices: [] };
  if (value.signup.enabled) {
    throw new ConfigError(['signup.enabled: needs email.smtpUrl (SMTP_URL) in production, or verification mail would only reach the outbox']);
  }
  return {
    passwordReset: { enabled: false },
    notices: value.passwordReset.enabled ? ['password reset is off: no SMTP server is set (email.smtpUrl / SMTP_URL)'] : [],
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
