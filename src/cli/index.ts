import { parseCliArgs } from './args.js';
import { apis } from './commands/apis.js';
import { clients } from './commands/clients.js';
import { keys } from './commands/keys.js';
import { migrate } from './commands/migrate.js';
import { registration } from './commands/registration.js';
import { upstreams } from './commands/upstreams.js';
import { users } from './commands/users.js';
import pino from 'pino';

import { openCliContext, UsageError } from './context.js';
import { processIo, type CliIo } from './io.js';

export const usage = `usage: idport <command> [options]

  users add --username U (--password P | --password-stdin) [--email E] [--name N]
            [--email-verified] [--claims JSON]
  users list | show USER | remove USER | set-password USER (--password P | --password-stdin)
  users reset-mfa USER            remove a user's passkeys, authenticator app and recovery codes
  clients add --name N --redirect-uri URI [--redirect-uri URI …] [--post-logout-redirect-uri URI]
              [--grant-type authorization_code|refresh_token|client_credentials|device_code|token-exchange …]
              [--public] [--scope S]
              [--pkce-optional] [--first-party] [--web-origin ORIGIN …] [--audience API]
              [--admin-scope users:write …]  (admin API scopes: users|clients|apis|upstreams|registration|keys
                                               :read|write; needs client_credentials)
              [--introspect-for API …]   (a resource server that may introspect tokens for these APIs)
              [--require-mfa]   (every sign-in for it needs a second factor)
              [--require-par]   (authorization requests only through PAR, RFC 9126)
              [--require-dpop]  (only DPoP-bound access tokens, RFC 9449)
              [--allow-impersonation]  (token exchanges without act, RFC 8693; needs token-exchange)
  clients update CLIENT_ID [--require-mfa | --no-require-mfa] [--require-par | --no-require-par]
                 [--require-dpop | --no-require-dpop] [--allow-impersonation | --no-allow-impersonation]
  clients list | show CLIENT_ID | remove CLIENT_ID   (list shows each client's origin: cli or registration)
  apis add --audience URI [--scope S …] [--name N] [--token-format jwt|opaque] [--ttl SECONDS]
  apis list | show AUDIENCE | remove AUDIENCE
  upstreams add --name N --client-id ID (--client-secret S | --client-secret-stdin)
              [--preset oidc|google|microsoft|apple|kakao|naver|github] [--issuer URL] [--id ID]
              [--scope S …] [--button-label L] [--jit | --no-jit] [--link-by-verified-email]
              [--claim-map JSON]
              [--api-url URL]   (github: the API of a GitHub Enterprise Server; naver: its profile API)
              [--tenant T]      (microsoft: organizations (default), common, consumers, or a tenant id)
              --team-id T --key-id K --private-key-file AuthKey_K.p8
                                (apple, instead of a client secret: it signs its own)
  upstreams update ID [the options of add but --id and --preset]
  upstreams list | show ID | remove ID
  keys list | rotate [--cookies]
  registration token create [--ttl DURATION] [--uses N]
                                  an initial access token for dynamic client registration (RFC 7591),
                                  printed once (--ttl: 3600, 90s, 30m, 12h, 7d; default 24h; --uses:
                                  how many registrations it allows, default any number)
  registration token list | revoke ID
  migrate                         apply SQLite migrations / create MongoDB indexes (start-up does it too)

Every command takes --json (prints exactly one JSON object). The CLI uses the server's
configuration (IDPORT_CONFIG, DATABASE_URL …) and works while it runs.`;

const nouns = { users, clients, apis, upstreams, keys, registration, migrate } as const;

/**
 * Runs one command; resolves to its exit code (0 done, 1 failed, 2 usage). With `io` (default: this
 * process's environment, stdout, stderr and stdin) a program can run commands in-process.
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const [noun, ...tail] = argv;
  // `idport migrate --json`: an option where the verb would be belongs to the options
  const verb = tail[0]?.startsWith('-') ? undefined : tail[0];
  const rest = verb === undefined ? tail : tail.slice(1);
  if (!noun) {
    io.stderr(`${usage}\n`);
    return 2;
  }
  if (noun === 'help' || noun === '--help' || noun === '-h') {
    io.stdout(`${usage}\n`);
    return 0;
  }
  let ctx;
  try {
    const command = nouns[noun as keyof typeof nouns];
    if (!command) throw new UsageError(`unknown command "${noun}"`);
    const args = parseCliArgs(rest);
    if (args.flag('help')) {
      io.stdout(`${usage}\n`);
      return 0;
    }
    // the process's own stderr is written synchronously (nothing lost when the process ends)
    const toStderr = io === processIo ? pino.destination(2) : { write: (line: string) => io.stderr(line) };
    ctx = await openCliContext(io, toStderr);
    await command(ctx, verb, args);
    return 0;
  } catch (err) {
    // Messages only, never stacks: every error we expect carries a message meant for people.
    io.stderr(`idport: ${(err as Error).message}\n`);
    if (err instanceof UsageError) io.stderr(`run "idport help" for usage\n`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    await ctx?.store.close();
  }
}
