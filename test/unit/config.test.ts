import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError, loadConfig, packageRoot } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'idport-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a config file and returns its path. */
function configFile(content: unknown): string {
  const path = join(dir, `config-${(files += 1)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** The ConfigError loadConfig throws for these inputs. */
function configError(env: Record<string, string | undefined>, overrides: Record<string, unknown> = {}): ConfigError {
  try {
    loadConfig(env, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('ERR_CONFIG');
    expect(e.message).toContain('invalid configuration');
    for (const p of e.problems) expect(e.message).toContain(p);
    return e;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify({ env, overrides })}`);
}

describe('loadConfig defaults', () => {
  test('with no environment: port 3000, sqlite ./data store, issuer http://localhost:3000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: 'sqlite:./data/idport.db',
      issuer: 'http://localhost:3000',
      logLevel: 'info',
      proxy: false,
      shutdownTimeoutSeconds: 10,
      keys: { refreshSeconds: 60 },
      branding: { productName: 'idport', primaryColor: '#0b57d0' },
    });
    expect(config.branding.logoUrl).toBeUndefined();
    expect(config.ttl.accessToken).toBe(3600);
    expect(config.ttl.authorizationCode).toBe(60);
  });

  test('does not read process.env when given an env object', () => {
    const saved = process.env.PORT;
    process.env.PORT = '4567';
    try {
      expect(loadConfig({}).port).toBe(3000);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  test('production without SMTP: sign-up is refused (its mail would reach only the outbox); password reset goes off with a notice', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' }, { signup: { enabled: true } })).toThrow(/signup\.enabled: needs email\.smtpUrl \(SMTP_URL\) in production/);
    const production = loadConfig({ NODE_ENV: 'production' });
    expect(production.passwordReset.enabled).toBe(false);
    expect(production.notices).toEqual(['password reset is off: no SMTP server is set (email.smtpUrl / SMTP_URL)']);
    const withSmtp = loadConfig({ NODE_ENV: 'production', SMTP_URL: 'smtp://mail.example.com:587' }, { signup: { enabled: true } });
    expect([withSmtp.passwordReset.enabled, withSmtp.signup.enabled, withSmtp.notices]).toEqual([true, true, []]);
    // development: both work, mail goes to the outbox
    expect(loadConfig({}, { signup: { enabled: true } }).passwordReset.enabled).toBe(true);
  });

  test('defaults are written once, in the schema: config/ holds only an example, and it is valid', () => {
    expect(readdirSync(join(packageRoot, 'config'))).toEqual(['example.json']);
    const example = loadConfig({ IDPORT_CONFIG: join(packageRoot, 'config/example.json') });
    expect(example).toMatchObject({ issuer: 'https://id.example.com', proxy: true, workers: 'auto', metrics: { port: 9464 } });
    // the example changes a setting here and there; the rest are the schema's defaults
    expect(example.ttl).toEqual({ ...configSchema.parse({}).ttl, accessToken: 900, session: 604800 });
  });

  test('the loaded config is the schema defaults plus the derived issuer', () => {
    expect(loadConfig({})).toEqual({ ...configSchema.parse({}), issuer: 'http://localhost:3000', production: false, notices: [] });
  });
});

describe('environment variables', () => {
  test('PORT, HOST, ISSUER, DATABASE_URL, LOG_LEVEL, TRUST_PROXY, KEY_REFRESH_SECONDS override the defaults', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      ISSUER: 'https://id.example.com',
      DATABASE_URL: 'sqlite:/tmp/x.db',
      LOG_LEVEL: 'debug',
      TRUST_PROXY: 'true',
      KEY_REFRESH_SECONDS: '5',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      issuer: 'https://id.example.com',
      databaseUrl: 'sqlite:/tmp/x.db',
      logLevel: 'debug',
      proxy: true,
      keys: { refreshSeconds: 5 },
    });
  });

  test('the default issuer follows PORT', () => {
    expect(loadConfig({ PORT: '8080' }).issuer).toBe('http://localhost:8080');
  });

  test('ISSUER loses trailing slashes but keeps its path', () => {
    expect(loadConfig({ ISSUER: 'https://id.example.com/' }).issuer).toBe('https://id.example.com');
    expect(loadConfig({ ISSUER: 'https://example.com/idp/' }).issuer).toBe('https://example.com/idp');
  });

  test.each([
    ['true', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('TRUST_PROXY=%s means %s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).proxy).toBe(expected);
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig({ PORT: '', ISSUER: '', DATABASE_URL: '' })).toMatchObject({ port: 3000, issuer: 'http://localhost:3000', databaseUrl: 'sqlite:./data/idport.db' });
  });

  test('unrelated variables are ignored', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'production' }).port).toBe(3000);
  });
});

describe('configuration errors name the key', () => {
  test('PORT=abc is a ConfigError naming port and PORT', () => {
    const e = configError({ PORT: 'abc' });
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toMatch(/\bport\b/);
    expect(e.problems[0]).toMatch(/\bPORT\b/);
    expect(e.problems[0]).toContain('abc');
  });

  test.each([['-1'], ['1e3'], [' 80'], ['80.5']])('PORT=%j is refused', (value) => {
    expect(configError({ PORT: value }).message).toMatch(/\bport\b/);
  });

  test('PORT above 65535 is refused naming port', () => {
    expect(configError({ PORT: '70000' }).message).toMatch(/\bport\b/);
  });

  test('TRUST_PROXY=yes names proxy and TRUST_PROXY', () => {
    const e = configError({ TRUST_PROXY: 'yes' });
    expect(e.message).toMatch(/\bproxy\b/);
    expect(e.message).toContain('TRUST_PROXY');
  });

  test('every bad environment variable is reported at once', () => {
    const e = configError({ PORT: 'abc', TRUST_PROXY: 'maybe', KEY_REFRESH_SECONDS: 'soon' });
    expect(e.problems).toHaveLength(3);
    expect(e.message).toContain('keys.refreshSeconds');
  });

  test('LOG_LEVEL outside the allowed set names logLevel', () => {
    expect(configError({ LOG_LEVEL: 'loud' }).message).toMatch(/\blogLevel\b/);
  });

  test('a KEY_REFRESH_SECONDS of 0 names keys.refreshSeconds', () => {
    expect(configError({ KEY_REFRESH_SECONDS: '0' }).message).toContain('keys.refreshSeconds');
  });

  test.each([['localhost:3000'], ['ftp://id.example.com'], ['not a url']])('ISSUER=%j is refused naming issuer', (value) => {
    expect(configError({ ISSUER: value }).message).toMatch(/\bissuer\b/);
  });

  // OpenID Connect Discovery 1.0 §2 / RFC 8414 §2: the issuer has no query or fragment.
  // oidc-provider refuses such an issuer when the server starts, so config must refuse it first.
  test.each([['https://id.example.com/?tenant=1'], ['https://id.example.com/#top']])(
    'ISSUER=%j (query or fragment) is a ConfigError naming issuer',
    (value) => {
      expect(configError({ ISSUER: value }).message).toMatch(/\bissuer\b/);
    },
  );

  test('overrides are validated too', () => {
    expect(configError({}, { port: -1 }).message).toMatch(/\bport\b/);
    expect(configError({}, { shutdownTimeoutSeconds: 0 }).message).toContain('shutdownTimeoutSeconds');
  });
});

describe('IDPORT_CONFIG file', () => {
  test('its values apply over the defaults, nested objects merge', () => {
    const path = configFile({ port: 4000, branding: { productName: 'Acme ID' }, ttl: { accessToken: 600 } });
    const config = loadConfig({ IDPORT_CONFIG: path });
    expect(config).toMatchObject({ port: 4000, branding: { productName: 'Acme ID', primaryColor: '#0b57d0' }, issuer: 'http://localhost:4000' });
    expect(config.ttl.accessToken).toBe(600);
    expect(config.ttl.idToken).toBe(3600);
    expect(config.ttl.refreshToken).toBe(1209600);
  });

  test('precedence: defaults < file < environment < overrides', () => {
    const path = configFile({ port: 4000, logLevel: 'warn', host: '10.0.0.1' });
    const env = { IDPORT_CONFIG: path, PORT: '5000', LOG_LEVEL: 'error' };
    expect(loadConfig(env)).toMatchObject({ port: 5000, logLevel: 'error', host: '10.0.0.1' });
    expect(loadConfig(env, { port: 6000 })).toMatchObject({ port: 6000, logLevel: 'error', host: '10.0.0.1' });
  });

  test('an unknown nested key is reported as "unknown key" with its dotted path', () => {
    const e = configError({ IDPORT_CONFIG: configFile({ ttl: { acessToken: 60 } }) });
    expect(e.message).toContain('ttl.acessToken');
    expect(e.message).toMatch(/ttl\.acessToken: unknown key/);
  });

  test('an unknown top-level key is reported with its name', () => {
    const e = configError({ IDPORT_CONFIG: configFile({ prot: 3000 }) });
    expect(e.message).toMatch(/\bprot: unknown key/);
  });

  test('several unknown keys are each reported', () => {
    const e = configError({ IDPORT_CONFIG: configFile({ prot: 1, keys: { refreshSecs: 1 } }) });
    expect(e.message).toMatch(/\bprot: unknown key/);
    expect(e.message).toMatch(/keys\.refreshSecs: unknown key/);
  });

  test('a wrong type names the dotted path', () => {
    const e = configError({ IDPORT_CONFIG: configFile({ ttl: { accessToken: '1h' } }) });
    expect(e.message).toMatch(/ttl\.accessToken: /);
    const e2 = configError({ IDPORT_CONFIG: configFile({ keys: { refreshSeconds: -5 } }) });
    expect(e2.message).toMatch(/keys\.refreshSeconds: /);
    const e3 = configError({ IDPORT_CONFIG: configFile({ proxy: 'yes' }) });
    expect(e3.message).toMatch(/\bproxy: /);
  });

  test('a missing file is a ConfigError naming the file', () => {
    const missing = join(dir, 'nope.json');
    expect(configError({ IDPORT_CONFIG: missing }).message).toContain(missing);
  });

  test('a file that is not JSON, or not an object, is a ConfigError naming the file', () => {
    const bad = configFile('{ port: 3000 ');
    expect(configError({ IDPORT_CONFIG: bad }).message).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`));
    const array = configFile([1, 2]);
    expect(configError({ IDPORT_CONFIG: array }).message).toContain(array);
  });
});

describe('branding', () => {
  test('primaryColor must be #rrggbb', () => {
    expect(loadConfig({}, { branding: { primaryColor: '#1A7F37' } }).branding.primaryColor).toBe('#1A7F37');
    for (const bad of ['red', '#fff', '#12345g', '0b57d0', '#0b57d0;}body{color:red', 'url(x)']) {
      expect(configError({}, { branding: { primaryColor: bad } }).message).toMatch(/branding\.primaryColor: /);
    }
  });

  test('logoUrl is an https:// URL or a path on our own origin', () => {
    for (const good of ['https://cdn.example.com/logo.svg', '/static/logo.png']) {
      expect(loadConfig({}, { branding: { logoUrl: good } }).branding.logoUrl).toBe(good);
    }
    for (const bad of ['http://cdn.example.com/logo.svg', 'javascript:alert(1)', 'data:image/png;base64,AAAA', '//evil.example/logo.png', '/\\evil.example/logo.png', 'logo.png', '/a b.png']) {
      expect(configError({}, { branding: { logoUrl: bad } }).message).toMatch(/branding\.logoUrl: /);
    }
  });

  test('registration.mode is off by default; a bad value names registration.mode (and REGISTRATION_MODE)', () => {
    expect(loadConfig({}).registration).toEqual({ mode: 'off', requestsPerIpPerMinute: 20, pkceOptional: false });
    expect(loadConfig({ REGISTRATION_MODE: 'open' }).registration.mode).toBe('open');
    expect(loadConfig({}, { registration: { mode: 'initial-access-token' } }).registration.mode).toBe('initial-access-token');
    expect(configError({}, { registration: { mode: 'anyone' } }).message).toMatch(/registration\.mode: .*"off"/);
    expect(configError({ REGISTRATION_MODE: 'on' }).message).toMatch(/registration\.mode \(env REGISTRATION_MODE\)/);
    expect(configError({}, { registration: { requestsPerIpPerMinute: 0 } }).message).toMatch(/registration\.requestsPerIpPerMinute/);
  });

  test('productName moved under branding: the old top-level key is refused by name', () => {
    expect(configError({}, { productName: 'Acme ID' }).message).toMatch(/\bproductName: unknown key/);
  });
});

describe('backchannelLogout', () => {
  test('defaults: 5 s per attempt, first retry after 1 s, retried for 90 s, 10000 waiting', () => {
    expect(loadConfig({}).backchannelLogout).toEqual({ attemptTimeoutMs: 5000, firstRetryMs: 1000, retryForSeconds: 90, maxPending: 10000 });
  });

  test('bounded values, each refused by its dotted path', () => {
    expect(loadConfig({}, { backchannelLogout: { retryForSeconds: 600, firstRetryMs: 50 } }).backchannelLogout).toMatchObject({ retryForSeconds: 600, firstRetryMs: 50, attemptTimeoutMs: 5000 });
    for (const [key, bad] of [['retryForSeconds', 0], ['retryForSeconds', 3601], ['retryForSeconds', 1.5], ['attemptTimeoutMs', 50], ['attemptTimeoutMs', 60001], ['firstRetryMs', 0], ['maxPending', 0]] as const) {
      expect(configError({}, { backchannelLogout: { [key]: bad } }).message).toMatch(new RegExp(`backchannelLogout\\.${key}: `));
    }
    expect(configError({}, { backchannelLogout: { retries: 3 } }).message).toMatch(/backchannelLogout\.retries: unknown key/);
  });
});

describe('the result', () => {
  test('is deeply frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ttl)).toBe(true);
    expect(Object.isFrozen(config.keys)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.ttl as { accessToken: number }).accessToken = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(3000);
  });

  test('does not share state between calls', () => {
    const path = configFile({ ttl: { accessToken: 42 } });
    expect(loadConfig({ IDPORT_CONFIG: path }).ttl.accessToken).toBe(42);
    expect(loadConfig({}).ttl.accessToken).toBe(3600);
  });
});
