/**
 * PostgreSQL going away under load and coming back, seen from outside a real idport process:
 * client_credentials requests keep coming while the server is stopped (`pg_ctl stop -m fast`);
 * every answer is 200 or a clean 503 temporarily_unavailable with Retry-After (JSON for the
 * token endpoint, the error page for browsers, never a 500 or a stack trace), none outlives the
 * configured timeouts, /readyz says 503; once the server is back the same process serves 200
 * again without a restart, and every token it issued before the outage is still active.
 * (An unreachable DATABASE_URL at start-up: test/e2e/process.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as oidc from 'openid-client';

import { cliJson, configOn, exitWithin, freePort, getJson, servingUrl, startNode, type IdportNode, type NodeSetup } from '../helpers/nodes.js';
import { usePostgres } from '../helpers/postgres.js';
import { killAll, sleep, stackLines, waitFor } from '../helpers/process.js';
import { UserAgent } from '../helpers/user-agent.js';

const server = usePostgres('PostgreSQL outage under load (e2e)');

/** What one token request came back with. */
interface Outcome {
  status: number;
  ms: number;
  /** when it was sent: before the stop was asked for, from then until the server was back, or after */
  phase: Phase;
  token?: string;
  error?: string;
  retryAfter?: string | null;
  contentType?: string | null;
}
type Phase = 'before' | 'during' | 'after';

if (server) {
  const dir = mkdtempSync(join(tmpdir(), 'idport-pg-outage-'));
  const connectTimeoutMs = 1000;
  const statementTimeoutMs = 1000;
  /** the longest a request may take while the database is down: a connect and a statement, plus slack for a loaded CI machine */
  const hangBoundMs = connectTimeoutMs + statementTimeoutMs + 3000;
  let setup: NodeSetup;
  let node: IdportNode;
  let machine: { client_id: string; client_secret: string };
  let web: { client_id: string; client_secret: string };
  let traffic: ReturnType<typeof load> | undefined;
  const redirectUri = 'http://127.0.0.1:8080/callback';
  let config: oidc.Configuration;

  beforeAll(async () => {
    const port = await freePort();
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ postgres: { maxPoolSize: 4, connectTimeoutMs, statementTimeoutMs } }));
    setup = { issuer: `http://127.0.0.1:${port}`, databaseUrl: await server.database(), configFile };
    node = startNode('A', port, setup);
    await servingUrl(node);
    machine = (await cliJson(setup, ['clients', 'add', '--name', 'Batch job', '--grant-type', 'client_credentials'])) as typeof machine;
    web = (await cliJson(setup, ['clients', 'add', '--name', 'Web app', '--redirect-uri', redirectUri])) as typeof web;
    config = configOn(node.origin, await getJson(`${node.origin}/.well-known/openid-configuration`), machine);
  }, 60_000);

  afterAll(async () => {
    await traffic?.stop();
    killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const basic = () => `Basic ${Buffer.from(`${encodeURIComponent(machine.client_id)}:${encodeURIComponent(machine.client_secret)}`).toString('base64')}`;

  /** One token request, never waiting longer than twice the hang bound (a hang is recorded, not awaited forever). */
  async function tokenRequest(phase: Phase): Promise<Outcome> {
    const started = performance.now();
    try {
      const res = await fetch(`${node.origin}/token`, {
        method: 'POST',
        headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: 'grant_type=client_credentials',
        signal: AbortSignal.timeout(hangBoundMs * 2),
      });
      const body = (await res.json()) as { access_token?: string; error?: string };
      return { status: res.status, ms: performance.now() - started, phase, token: body.access_token, error: body.error, retryAfter: res.headers.get('retry-after'), contentType: res.headers.get('content-type') };
    } catch (err) {
      return { status: 0, ms: performance.now() - started, phase, error: String(err) };
    }
  }

  /** `parallel` loops of token requests until `stop()`; each loop waits for its answer before sending the next. */
  function load(parallel: number) {
    const outcomes: Outcome[] = [];
    let phase: Phase = 'before';
    let running = true;
    /** requests sent and not answered yet, by the phase they were sent in */
    const inFlight: Record<Phase, number> = { before: 0, during: 0, after: 0 };
    const loops = Array.from({ length: parallel }, async () => {
      // bounded: at most 400 requests per loop whatever happens
      for (let i = 0; running && i < 400; i += 1) {
        const sentIn = phase;
        inFlight[sentIn] += 1;
        outcomes.push(await tokenRequest(sentIn));
        inFlight[sentIn] -= 1;
        await sleep(5);
      }
    });
    return {
      outcomes,
      setPhase: (p: Phase) => void (phase = p),
      /** resolves once every request sent in `p` has its answer */
      answered: (p: Phase) => waitFor(`the requests sent ${p} to be answered`, hangBoundMs * 2, () => (inFlight[p] === 0 ? true : undefined)),
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  const readyz = async () => {
    const res = await fetch(`${node.origin}/readyz`, { signal: AbortSignal.timeout(hangBoundMs) });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  describe('an idport process on PostgreSQL while the database goes away and comes back', () => {
    test('under load: 200s, then clean 503s (JSON and the error page), then 200s again from the same process; no token lost', async () => {
      const outage = server.outage;
      if (!outage) {
        process.stderr.write(`SKIPPED: PostgreSQL outage e2e: ${server.origin} cannot be stopped by the test\n`);
        return;
      }
      expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
      // a browser that has started signing in (its interaction is in the database)
      const ua = new UserAgent();
      const authorize = `/auth?client_id=${encodeURIComponent(web.client_id)}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(redirectUri)}&code_challenge=${'x'.repeat(43)}&code_challenge_method=S256`;
      const started = await ua.request(`${node.origin}${authorize}`);
      await started.arrayBuffer();
      expect(started.status).toBe(303);
      const interaction = new URL(started.headers.get('location')!, node.origin).pathname;
      expect(interaction).toMatch(/^\/interaction\/[\w-]+$/);

      const t = (traffic = load(4));
      await waitFor('some tokens before the outage', 10_000, () => (t.outcomes.filter((o) => o.status === 200).length >= 20 ? true : undefined));

      // from here on a request may meet the database stopping or stopped; those sent before are
      // answered first, so a 'before' request never meets the stop
      t.setPhase('during');
      await t.answered('before');
      await outage.begin();
      let restarted = false;
      try {
        // the load goes on against the stopped database
        await waitFor('503s during the outage', 10_000, () => (t.outcomes.filter((o) => o.phase === 'during' && o.status === 503).length >= 10 ? true : undefined));
        expect(await readyz()).toEqual({ status: 503, body: { status: 'store unavailable' } });

        // a browser asking for HTML pages gets the error page: 503, Retry-After, no stack trace
        for (const path of [interaction, authorize]) {
          const res = await ua.request(`${node.origin}${path}`, { signal: AbortSignal.timeout(hangBoundMs) });
          const html = await res.text();
          expect([path, res.status]).toEqual([path, 503]);
          expect(res.headers.get('content-type')).toMatch(/^text\/html/);
          expect([path, Number(res.headers.get('retry-after')) > 0]).toEqual([path, true]);
          expect(html).toMatch(/temporarily unavailable/i);
          expect(stackLines(html)).toEqual([]);
          expect(html).not.toMatch(/StoreUnavailable|ECONNREFUSED|node_modules/);
        }
        await outage.end();
        restarted = true;
      } finally {
        if (!restarted) await outage.end();
      }
      t.setPhase('after');
      const backAt = performance.now();
      await waitFor('200s again after the restart', 10_000, () => (t.outcomes.some((o) => o.phase === 'after' && o.status === 200) ? true : undefined));
      const recoveredMs = performance.now() - backAt;
      await waitFor('/readyz 200 again', 10_000, async () => ((await readyz()).status === 200 ? true : undefined));
      // a little more load on the recovered database, then stop
      const afterCount = () => t.outcomes.filter((o) => o.phase === 'after' && o.status === 200).length;
      await waitFor('more 200s after the restart', 10_000, () => (afterCount() >= 20 ? true : undefined));
      await t.stop();

      const { outcomes } = t;
      const summary = (o: Outcome) => `${o.phase} ${o.status} ${Math.round(o.ms)} ms ${o.error ?? ''}`;
      // only 200 or 503: never a 500, never a dropped connection or a request cut off by our timeout
      expect(outcomes.filter((o) => o.status !== 200 && o.status !== 503).map(summary)).toEqual([]);
      // nobody waited past the configured timeouts
      expect(outcomes.filter((o) => o.ms > hangBoundMs).map(summary)).toEqual([]);
      for (const o of outcomes.filter((x) => x.status === 503)) {
        expect(o).toMatchObject({ error: 'temporarily_unavailable', contentType: expect.stringMatching(/^application\/json/) });
        expect(Number(o.retryAfter)).toBeGreaterThan(0);
      }
      expect(outcomes.filter((o) => o.phase === 'before' && o.status === 503)).toEqual([]);
      expect(recoveredMs).toBeLessThan(5000);

      // every token answered 200 (before, during or after the outage) is still active
      const issued = outcomes.filter((o) => o.status === 200).map((o) => o.token!);
      expect(new Set(issued).size).toBe(issued.length);
      const inactive: string[] = [];
      for (let i = 0; i < issued.length; i += 8) {
        const batch = issued.slice(i, i + 8);
        const answers = await Promise.all(batch.map((t) => oidc.tokenIntrospection(config, t)));
        answers.forEach((r, j) => r.active !== true && inactive.push(batch[j]!.slice(0, 8)));
      }
      expect(inactive).toEqual([]);

      // the process never restarted and printed no stack trace
      expect(node.child.exitCode).toBeNull();
      expect(stackLines(node.stdout() + node.stderr())).toEqual([]);
    }, 40_000);

    test('SIGTERM after the outage: exits 0', async () => {
      node.child.kill('SIGTERM');
      expect(await exitWithin(node, 10_000)).toMatchObject({ code: 0, signal: null });
    });
  });
}
