/**
 * The real server process (`node dist/main.js`): startup line, discovery, clean exit on SIGTERM,
 * bounded draining, and how it refuses bad configuration.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

import { killAll, mainScript, output, spawnIdport, stackLines, waitFor as poll, type IdportProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/server.js';

const dirs: string[] = [];
const sockets = new Set<Socket>();

afterAll(() => {
  for (const s of sockets) s.destroy();
  killAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Proc extends IdportProcess {
  dir: string;
}

/** Starts `node dist/main.js` on a temp store with only the given config in its environment. */
function startProcess(env: Record<string, string> = {}, config?: Record<string, unknown>): Proc {
  const dir = tempDir();
  dirs.push(dir);
  const file = config ? join(dir, 'config.json') : undefined;
  if (file) writeFileSync(file, JSON.stringify(config));
  const proc = spawnIdport(mainScript, [], {
    env: { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${join(dir, 'idport.db')}`, LOG_LEVEL: 'silent', IDPORT_CONFIG: file, ...env },
  });
  return { ...proc, dir };
}

/** Waits until `check` returns something, or fails after `ms` (with the process's output). */
const waitFor = <T>(what: string, ms: number, check: () => T | undefined, proc?: Proc) => poll(what, ms, check, () => (proc ? output(proc) : ''));

/** Resolves with the exit, or rejects if the process is still running after `ms`. */
function exitWithin(proc: Proc, ms: number) {
  let timer: NodeJS.Timeout;
  return Promise.race([
    proc.exited.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running ${ms} ms later\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`)), ms);
    }),
  ]);
}

/** The issuer URL from the startup line `idport is serving <url> (…`. */
const servingUrl = (proc: Proc) =>
  waitFor('the startup line', 15_000, () => {
    const m = /^idport is serving (\S+) \(/m.exec(proc.stdout());
    return m ? new URL(m[1]!) : undefined;
  }, proc);


/** Opens a raw TCP connection and collects what the server sends. */
async function rawConnection(url: URL) {
  const socket = connect(Number(url.port), url.hostname);
  sockets.add(socket);
  let received = '';
  let closedAt: number | undefined;
  socket.setEncoding('utf8').on('data', (d: string) => (received += d));
  socket.on('close', () => (closedAt = Date.now()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => received, closedAt: () => closedAt };
}

/** A token request whose body is only partly sent: the request stays in flight. */
function partialTokenRequest(url: URL) {
  const body = 'grant_type=client_credentials&client_id=nobody&client_secret=not-a-real-secret-but-long-enough';
  const head =
    `POST /token HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    `Connection: keep-alive\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return { first: head + body.slice(0, 10), rest: body.slice(10) };
}

describe('the idport process', () => {
  test('prints the startup line, serves discovery for its issuer, and exits 0 on SIGTERM', async () => {
    const proc = startProcess();
    const url = await servingUrl(proc);
    expect(url.hostname).toBe('127.0.0.1');
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(proc.stdout()).toContain(`${url.origin}/.well-known/openid-configuration`);
    expect(proc.stdout()).toContain('store: sqlite');

    const res = await fetch(`${url.origin}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as { issuer: string; jwks_uri: string; authorization_endpoint: string };
    expect(meta.issuer).toBe(url.origin);
    expect(meta.jwks_uri.startsWith(url.origin)).toBe(true);
    expect(meta.authorization_endpoint).toBe(`${url.origin}/auth`);

    const health = await fetch(`${url.origin}/healthz`);
    expect(health.status).toBe(200);
    await health.text();

    const sentAt = Date.now();
    proc.child.kill('SIGTERM');
    const exit = await exitWithin(proc, 5000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - sentAt).toBeLessThan(5000);
    expect(proc.stdout()).toMatch(/SIGTERM received/);
    expect(stackLines(proc.stderr())).toEqual([]);
  });

  test('SIGINT also exits 0', async () => {
    const proc = startProcess();
    await servingUrl(proc);
    proc.child.kill('SIGINT');
    expect(await exitWithin(proc, 5000)).toMatchObject({ code: 0, signal: null });
  });

  test('an idle keep-alive connection does not hold up shutdown', async () => {
    const proc = startProcess({}, { shutdownTimeoutSeconds: 8 });
    const url = await servingUrl(proc);
    const agent = new Agent({ keepAlive: true });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${url.origin}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      // the socket is now idle in the agent's pool, kept alive by the server (keepAliveTimeout 65 s)
      const sentAt = Date.now();
      proc.child.kill('SIGTERM');
      const exit = await exitWithin(proc, 5000);
      expect(exit.code).toBe(0);
      expect(exit.at - sentAt).toBeLessThan(3000);
    } finally {
      agent.destroy();
    }
  });

  test('a stalled in-flight request does not keep the process alive past shutdownTimeoutSeconds', async () => {
    const proc = startProcess({}, { shutdownTimeoutSeconds: 2 });
    const url = await servingUrl(proc);
    const conn = await rawConnection(url);
    conn.socket.write(partialTokenRequest(url).first); // never finished
    await new Promise((r) => setTimeout(r, 200));

    const sentAt = Date.now();
    proc.child.kill('SIGTERM');
    const exit = await exitWithin(proc, 7000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    const took = exit.at - sentAt;
    // it waited for the request (draining), then gave up at the deadline
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(5000);
    await waitFor('the server to drop the stalled connection', 2000, () => conn.closedAt());
  });

  test('a request in flight at SIGTERM is answered, then the process exits without waiting for the deadline', async () => {
    const proc = startProcess({}, { shutdownTimeoutSeconds: 8 });
    const url = await servingUrl(proc);
    const conn = await rawConnection(url);
    const { first, rest } = partialTokenRequest(url);
    conn.socket.write(first);
    await new Promise((r) => setTimeout(r, 200));

    proc.child.kill('SIGTERM');
    await waitFor('the drain message', 3000, () => (/SIGTERM received/.test(proc.stdout()) ? true : undefined), proc);
    await new Promise((r) => setTimeout(r, 300));
    expect(conn.closedAt()).toBeUndefined(); // still waiting for our request
    conn.socket.write(rest);

    const response = await waitFor('the response to the in-flight request', 3000, () => {
      const text = conn.received();
      return /\r\n\r\n/.test(text) ? text : undefined;
    }, proc);
    const answeredAt = Date.now();
    expect(response).toMatch(/^HTTP\/1\.1 401 /);
    expect(response).toContain('invalid_client');
    // Once the last in-flight request is answered, the process must not sit out the rest of
    // shutdownTimeoutSeconds (8 s) because the answered connection is still kept alive.
    const exit = await exitWithin(proc, 10_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - answeredAt).toBeLessThan(2000);
  });

  test('when the port is taken it exits 1 saying so, without a stack trace', async () => {
    const first = startProcess();
    const url = await servingUrl(first);
    try {
      const second = startProcess({ PORT: url.port });
      const exit = await exitWithin(second, 10_000);
      expect(exit.code).toBe(1);
      expect(second.stderr()).toMatch(/port already in use/);
      expect(stackLines(second.stderr())).toEqual([]);
      expect(second.stdout()).not.toMatch(/idport is serving/);
    } finally {
      first.child.kill('SIGTERM');
      await exitWithin(first, 5000);
    }
  });
});

describe('the idport process refuses bad configuration', () => {
  test('PORT=abc: exits non-zero at once, naming port and PORT, no stack trace', async () => {
    const proc = startProcess({ PORT: 'abc' });
    const exit = await exitWithin(proc, 5000);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(proc.stderr()).toMatch(/\bport\b/);
    expect(proc.stderr()).toMatch(/\bPORT\b/);
    expect(stackLines(proc.stderr())).toEqual([]);
    expect(proc.stdout()).not.toMatch(/idport is serving/);
  });

  test('an unreachable MongoDB: exits non-zero within 15 s with one line naming the host, no credentials', async () => {
    const started = Date.now();
    const proc = startProcess({ DATABASE_URL: 'mongodb://admin:hunter2@127.0.0.1:1/idport' });
    const exit = await exitWithin(proc, 15_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const lines = proc.stderr().split('\n').filter((l) => l.trim() && !l.includes('oidc-provider WARNING'));
    expect(lines).toEqual([expect.stringMatching(/^idport: cannot use MongoDB at 127\.0\.0\.1:1: /)]);
    expect(proc.stderr()).not.toContain('hunter2');
    expect(stackLines(proc.stderr())).toEqual([]);
  }, 20_000);

  test('an unreachable PostgreSQL: exits non-zero within 15 s with one line naming the host, no credentials', async () => {
    const started = Date.now();
    const proc = startProcess({ DATABASE_URL: 'postgres://admin:hunter2@127.0.0.1:1/idport?sslmode=disable' });
    const exit = await exitWithin(proc, 15_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const lines = proc.stderr().split('\n').filter((l) => l.trim() && !l.includes('oidc-provider WARNING'));
    expect(lines).toEqual([expect.stringMatching(/^idport: cannot use PostgreSQL at 127\.0\.0\.1:1: /)]);
    expect(proc.stderr()).not.toContain('hunter2');
    expect(stackLines(proc.stderr())).toEqual([]);
  }, 20_000);

  test('an unknown scheme names databaseUrl and hides credentials', async () => {
    const proc = startProcess({ DATABASE_URL: 'mysql://admin:hunter2@db.example.com/idport' });
    const exit = await exitWithin(proc, 5000);
    expect(exit.code).not.toBe(0);
    expect(proc.stderr()).toMatch(/databaseUrl/);
    expect(proc.stderr()).not.toContain('hunter2');
    expect(stackLines(proc.stderr())).toEqual([]);
  });

  test('an unknown key in the IDPORT_CONFIG file: exits non-zero naming the dotted path', async () => {
    const proc = startProcess({}, { ttl: { acessToken: 60 } });
    const exit = await exitWithin(proc, 5000);
    expect(exit.code).not.toBe(0);
    expect(proc.stderr()).toMatch(/ttl\.acessToken: unknown key/);
    expect(stackLines(proc.stderr())).toEqual([]);
  });
});
