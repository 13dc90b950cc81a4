/**
 * Fixed inputs and small utilities of the conformance tests: the test user, the redirect URIs of
 * the certification clients, waiting, unsigned JWTs and the real `idport` command line.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REDIRECT_URI = 'http://127.0.0.1:8080/callback';
export const POST_LOGOUT_REDIRECT_URI = 'http://127.0.0.1:8080/post_logout_redirect';

/**
 * The suite's basic and logout plans run with static clients and never send PKCE (only
 * oidcc-ensure-request-with-valid-pkce-succeeds does). idport requires PKCE by default, so the
 * clients of a certification run are registered with PKCE made optional (confidential clients
 * only; `idport clients add --pkce-optional`). See docs/conformance.md, setting S1.
 */
export const certificationClient = { require_pkce: false } as const;

/** The test user, with every standard claim (OpenID Connect Core §5.1) filled in. */
export const buffy = {
  username: 'buffy',
  password: 'into every generation a slayer is born',
  email: 'buffy@sunnydale.example',
  name: 'Buffy Anne Summers',
  claims: {
    given_name: 'Buffy',
    family_name: 'Summers',
    middle_name: 'Anne',
    nickname: 'Buff',
    profile: 'https://sunnydale.example/buffy',
    picture: 'https://sunnydale.example/buffy.png',
    website: 'https://slayer.example',
    gender: 'female',
    birthdate: '1981-01-19',
    zoneinfo: 'America/Los_Angeles',
    locale: 'en-US',
    address: {
      formatted: '1630 Revello Drive\nSunnydale, CA 95037\nUSA',
      street_address: '1630 Revello Drive',
      locality: 'Sunnydale',
      region: 'CA',
      postal_code: '95037',
      country: 'US',
    },
    phone_number: '+1 555 555 0199',
  },
} as const;

/** Standard claims released per scope (OpenID Connect Core §5.4). */
export const scopeClaims = {
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
    'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
} as const;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whole seconds since the epoch, as in `auth_time`. */
export const epoch = () => Math.floor(Date.now() / 1000);

/** Waits until the wall clock reads at least `second` (epoch seconds). */
export async function untilSecond(second: number) {
  const ms = second * 1000 - Date.now();
  if (ms > 0) await sleep(ms + 25);
}

/** An unsigned (alg "none") JWT, as the suite's request object modules send. */
export function unsignedJwt(payload: Record<string, unknown>) {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64(payload)}.`;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the real `idport` command line (bin/idport.js) against `databaseUrl`. */
export function idportCli(databaseUrl: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' };
  for (const name of ['IDPORT_CONFIG', 'PORT', 'HOST', 'ISSUER', 'TRUST_PROXY', 'KEY_REFRESH_SECONDS', 'NODE_OPTIONS', 'npm_lifecycle_event']) {
    delete env[name];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/idport.js'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
