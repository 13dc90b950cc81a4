import { parseArgs } from 'node:util';

import { UsageError } from './context.js';

/** Every option any command takes; each command reads the ones it knows. */
const options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  username: { type: 'string' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  email: { type: 'string' },
  'email-verified': { type: 'boolean' },
  name: { type: 'string' },
  claims: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-redirect-uri': { type: 'string', multiple: true },
  'grant-type': { type: 'string', multiple: true },
  public: { type: 'boolean' },
  'pkce-optional': { type: 'boolean' },
  scope: { type: 'string', multiple: true },
  'admin-scope': { type: 'string', multiple: true },
  cookies: { type: 'boolean' },
  audience: { type: 'string' },
  'token-format': { type: 'string' },
  ttl: { type: 'string' },
  uses: { type: 'string' },
  'web-origin': { type: 'string', multiple: true },
  'first-party': { type: 'boolean' },
  'introspect-for': { type: 'string', multiple: true },
  'require-mfa': { type: 'boolean' },
  'no-require-mfa': { type: 'boolean' },
  'require-par': { type: 'boolean' },
  'no-require-par': { type: 'boolean' },
  'require-dpop': { type: 'boolean' },
  'no-require-dpop': { type: 'boolean' },
  'allow-impersonation': { type: 'boolean' },
  'no-allow-impersonation': { type: 'boolean' },
  'backchannel-logout-uri': { type: 'string' },
  'no-backchannel-logout-uri': { type: 'boolean' },
  'backchannel-logout-session-required': { type: 'boolean' },
  'no-backchannel-logout-session-required': { type: 'boolean' },
  id: { type: 'string' },
  preset: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'client-secret-stdin': { type: 'boolean' },
  'button-label': { type: 'string' },
  'link-by-verified-email': { type: 'boolean' },
  'no-link-by-verified-email': { type: 'boolean' },
  jit: { type: 'boolean' },
  'no-jit': { type: 'boolean' },
  'claim-map': { type: 'string' },
  'api-url': { type: 'string' },
  tenant: { type: 'string' },
  'team-id': { type: 'string' },
  'key-id': { type: 'string' },
  'private-key-file': { type: 'string' },
} as const;

export interface Args {
  positional: string[];
  flag(name: string): boolean;
  string(name: string): string | undefined;
  list(name: string): string[];
}

export function parseCliArgs(argv: string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return {
    positional: parsed.positionals,
    flag: (name) => values[name] === true,
    string: (name) => {
      const v = values[name];
      return typeof v === 'string' ? v : undefined;
    },
    list: (name) => {
      const v = values[name];
      return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
    },
  };
}
