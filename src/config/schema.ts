import { z } from 'zod';

const seconds = (def: number, what: string) =>
  z.number().int().positive().default(def).describe(`${what} (seconds)`);

export const ttlSchema = z
  .object({
    accessToken: seconds(3600, 'access token lifetime'),
    clientCredentials: seconds(600, 'client-credentials access token lifetime'),
    authorizationCode: seconds(60, 'authorization code lifetime'),
    idToken: seconds(3600, 'ID token lifetime'),
    refreshToken: seconds(14 * 24 * 3600, 'refresh token lifetime'),
    refreshTokenAbsolute: seconds(30 * 24 * 3600, 'refresh token absolute lifetime across rotations'),
    interaction: seconds(3600, 'login/consent interaction lifetime'),
    session: seconds(14 * 24 * 3600, 'browser session lifetime'),
    grant: seconds(30 * 24 * 3600, 'grant (consent record) lifetime'),
  })
  .strict();

/** An https:// URL, or a path on our own origin: "/…", never "//…" or "/\…" (browsers read both as another host). */
function isLogoUrl(value: string): boolean {
  if (value.startsWith('/')) return /^\/(?![/\\])[^\s\\]*$/.test(value);
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

export const brandingSchema = z
  .object({
    productName: z.string().min(1).max(60).default('idport').describe('name shown on pages'),
    logoUrl: z
      .string()
      .max(2048)
      .refine(isLogoUrl, 'must be an https:// URL or a path starting with /')
      .optional()
      .describe('logo above every page, its alt text the product name (https:// URL, or a path on the issuer origin)'),
    primaryColor: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour written #rrggbb')
      .default('#0b57d0')
      .describe('accent colour of buttons and links (#rrggbb)'),
  })
  .strict();

export const configSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(3000).describe('TCP port to listen on'),
    host: z.string().min(1).default('0.0.0.0').describe('interface to bind'),
    issuer: z
      .url({ protocol: /^https?$/ })
      .refine((value) => !/[?#]/.test(value), 'must not have a query or fragment (OpenID Connect Discovery §2)')
      .optional()
      .describe('public issuer URL (default http://localhost:PORT)'),
    databaseUrl: z
      .string()
      .min(1)
      .default('sqlite:./data/idport.db')
      .describe('store: sqlite:PATH, sqlite::memory:, a postgres:// or postgresql:// URL, or a mongodb:// or mongodb+srv:// connection string'),
    workers: z
      .union([z.literal('auto'), z.number().int().min(1).max(256)])
      .default(1)
      .describe('worker processes sharing the port (auto = one per CPU)'),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('log level'),
    proxy: z
      .boolean()
      .default(false)
      .describe('trust X-Forwarded-* headers (only behind a TLS-terminating proxy)'),
    ttl: ttlSchema.prefault({}),
    scopeClaimsInIdToken: z
      .boolean()
      .default(true)
      .describe(
        'ID tokens carry the claims of the scopes granted (name, email, …), where Auth.js and most relying parties read them; false = OpenID Connect Core §5.4 strictly: only userinfo has them whenever an access token is issued',
      ),
    keys: z
      .object({
        refreshSeconds: z
          .number()
          .int()
          .positive()
          .default(60)
          .describe('how often a running node re-reads keys from the store'),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        enabled: z
          .boolean()
          .optional()
          .describe('serve the admin API at /admin/v1 on the public port (default: only when host is a loopback address and admin.port is not set)'),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .nullable()
          .default(null)
          .describe('also serve the admin API (and nothing else) on this separate port (null = no separate listener)'),
        host: z.string().min(1).default('127.0.0.1').describe('interface for the separate admin port'),
        requestsPerMinute: z.number().int().positive().default(600).describe('admin API requests from one address per minute'),
      })
      .strict()
      .prefault({}),
    sweepSeconds: z
      .number()
      .int()
      .positive()
      .default(300)
      .describe('how often expired rows are deleted'),
    shutdownTimeoutSeconds: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe('how long SIGTERM waits for in-flight requests'),
    postgres: z
      .object({
        maxPoolSize: z.number().int().positive().max(1000).default(10).describe('PostgreSQL connections per process'),
        connectTimeoutMs: z
          .number()
          .int()
          .positive()
          .max(60000)
          .default(10000)
          .describe('how long to wait for a PostgreSQL connection (start-up fails after this)'),
        statementTimeoutMs: z
          .number()
          .int()
          .positive()
          .max(600000)
          .default(10000)
          .describe('PostgreSQL cancels a statement running longer than this (requests then get 503)'),
      })
      .strict()
      .prefault({}),
    mongo: z
      .object({
        maxPoolSize: z.number().int().positive().default(20).describe('MongoDB connections per process'),
        serverSelectionTimeoutMs: z
          .number()
          .int()
          .positive()
          .max(15000)
          .default(10000)
          .describe('how long to wait for a usable MongoDB server (start-up fails after this)'),
        connectTimeoutMs: z.number().int().positive().default(10000).describe('MongoDB TCP connect timeout'),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .nullable()
          .default(null)
          .describe('serve /metrics on this separate port (null = no separate listener)'),
        host: z.string().min(1).default('127.0.0.1').describe('interface for the separate metrics port'),
        onPublicPort: z
          .boolean()
          .default(false)
          .describe('also serve /metrics on the public port (anyone who can reach the issuer can read it)'),
      })
      .strict()
      .prefault({}),
    deviceFlow: z
      .object({
        pagesPerIpPerMinute: z.number().int().positive().default(60).describe('/device page loads and form posts from one IP per minute'),
        codeEntriesPerIpPerMinute: z
          .number()
          .int()
          .positive()
          .default(10)
          .describe('user codes submitted at /device from one IP per minute (RFC 8628 §5.1)'),
        wrongCodesPerSession: z
          .number()
          .int()
          .positive()
          .default(5)
          .describe('wrong user codes one browser session may enter per hour before it must wait'),
      })
      .strict()
      .prefault({}),
    passwords: z
      .object({
        minLength: z.number().int().min(8).max(64).default(8).describe('shortest password accepted (15 recommended when passwords are the only factor)'),
        maxLength: z.number().int().min(64).max(1024).default(256).describe('longest password accepted (never truncated)'),
        maxWaitingHashes: z
          .number()
          .int()
          .min(1)
          .max(10000)
          .default(32)
          .describe('password checks waiting for a turn (per process); beyond it, sign-ins get 503 with Retry-After'),
      })
      .strict()
      .prefault({}),
    bruteForce: z
      .object({
        freeFailures: z.number().int().min(1).default(5).describe('failed logins for one account (or unknown username) before waits begin'),
        waitSeconds: z.number().int().positive().default(60).describe('first wait; doubles with each further failure'),
        maxWaitSeconds: z.number().int().positive().default(900).describe('longest wait (lockout cap)'),
        resetSeconds: z.number().int().positive().default(43200).describe('failures are forgotten this long after the last one'),
        ipFailuresPerHour: z.number().int().positive().default(100).describe('failed logins from one address (IPv6: one /64) per hour before it is blocked'),
        ipBlockSeconds: z.number().int().positive().default(900).describe('how long such an address is blocked'),
        loginsPerIpPerMinute: z.number().int().positive().default(60).describe('login attempts (any outcome) from one address (IPv6: one /64) per minute'),
        unknownLoginChecksPerSecond: z
          .number()
          .int()
          .positive()
          .default(10)
          .describe('password checks per second (per process) for logins naming no account; past it they wait without hashing'),
      })
      .strict()
      .prefault({}),
    email: z
      .object({
        smtpUrl: z
          .string()
          .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
          .optional()
          .describe('SMTP server for email (smtp://user:pass@host:587 or smtps://…:465); unset = messages go to the outbox'),
        from: z.string().min(3).max(200).default('idport <no-reply@localhost>').describe('sender of every email'),
        outboxDir: z.string().min(1).default('./data/outbox').describe('where messages go when no SMTP server is set (one file each, and a log line)'),
      })
      .strict()
      .prefault({}),
    signup: z
      .object({
        enabled: z.boolean().default(false).describe('people may create their own account from the login page'),
        allowedEmailDomains: z
          .array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be a domain name like example.com'))
          .default([])
          .describe('when not empty, only addresses at these domains may sign up'),
        requireVerifiedEmail: z.boolean().default(false).describe('accounts that signed up may sign in only once their email is verified'),
      })
      .strict()
      .prefault({}),
    passwordReset: z
      .object({
        enabled: z.boolean().default(true).describe('"Forgot password?" on the login page (by email; off in production without SMTP)'),
      })
      .strict()
      .prefault({}),
    mfa: z
      .object({
        required: z.boolean().default(false).describe('every sign-in needs a second factor (passkey, or password + TOTP/passkey), except at /account where users set one up'),
        reauthSeconds: z
          .number()
          .int()
          .positive()
          .max(86400)
          .default(300)
          .describe('how recent a sign-in must be to add or remove a factor on /account (else the user signs in again)'),
      })
      .strict()
      .prefault({}),
    backchannelLogout: z
      .object({
        attemptTimeoutMs: z
          .number()
          .int()
          .min(100)
          .max(60000)
          .default(5000)
          .describe('how long one logout-token POST to a client may take before it counts as failed and is retried'),
        firstRetryMs: z
          .number()
          .int()
          .min(10)
          .max(60000)
          .default(1000)
          .describe('wait before the first retry of a logout token; doubles with each further retry (at most 30 s)'),
        retryForSeconds: z
          .number()
          .int()
          .min(1)
          .max(3600)
          .default(90)
          .describe('how long a logout token is retried (timeouts, 408, 429, 5xx, no connection) before idport gives up on it'),
        maxPending: z
          .number()
          .int()
          .min(1)
          .max(1000000)
          .default(10000)
          .describe('logout tokens waiting for delivery (per process); beyond it new ones are given up at once'),
      })
      .strict()
      .prefault({}),
    branding: brandingSchema.prefault({}),
    registration: z
      .object({
        mode: z
          .enum(['off', 'initial-access-token', 'open'])
          .default('off')
          .describe('dynamic client registration (RFC 7591/7592 at /reg): off, initial-access-token (a token from `idport registration token create`), or open (anyone may register; warned about at start)'),
        requestsPerIpPerMinute: z
          .number()
          .int()
          .positive()
          .default(20)
          .describe('requests to /reg (register, read, update, delete) from one address (IPv6: one /64) per minute'),
        pkceOptional: z
          .boolean()
          .default(false)
          .describe('confidential clients that register without require_pkce may skip PKCE, as the OpenID dynamic certification plan needs (public clients always use PKCE)'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema> & {
  issuer: string;
  /** NODE_ENV=production (derived, not set): no email outbox, and the rules of emailRules() */
  production: boolean;
  /** what start-up should say about the configuration (derived, not set) */
  notices: readonly string[];
};

/** Every default, from the schema (the only place defaults are written). */
export const configDefaults = (): Config => ({ ...configSchema.parse({}), issuer: 'http://localhost:3000', production: false, notices: [] });
