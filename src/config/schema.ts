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
      .describe('store: sqlite:PATH, sqlite::memory: (mongodb:// later)'),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('log level'),
    proxy: z
      .boolean()
      .default(false)
      .describe('trust X-Forwarded-* headers (only behind a TLS-terminating proxy)'),
    ttl: ttlSchema.default(() => ttlSchema.parse({})),
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
      .default({ refreshSeconds: 60 }),
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
    productName: z.string().min(1).max(60).default('idport').describe('name shown on pages'),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema> & { issuer: string };
