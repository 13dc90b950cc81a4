/**
 * Real idport nodes (`node dist/main.js`) sharing one store and one issuer, for multi-node and
 * outage tests: start one on a port of its own, wait for its startup line, run the CLI against
 * the same store, and talk to one node directly with openid-client (the issuer's metadata with
 * its endpoints moved to that node's origin).
 */
import { createServer } from 'node:net';

import * as oidc from 'openid-client';

import { cli as runCli } from './cli.js';
import { mainScript, spawnIdport, stackLines, waitFor, type IdportProcess } from './process.js';

export interface IdportNode extends IdportProcess {
  name: string;
  /** where this node listens (http://127.0.0.1:<port>), not the issuer */
  origin: string;
}

export interface NodeSetup {
  issuer: string;
  databaseUrl: string;
  /** an IDPORT_CONFIG file */
  configFile: string;
  /** more environment (KEY_REFRESH_SECONDS, …) */
  env?: Record<string, string>;
}

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

export function startNode(name: string, port: number, setup: NodeSetup): IdportNode {
  const proc = spawnIdport(mainScript, [], {
    env: { PORT: String(port), HOST: '127.0.0.1', ISSUER: setup.issuer, DATABASE_URL: setup.databaseUrl, LOG_LEVEL: 'warn', IDPORT_CONFIG: setup.configFile, ...setup.env },
  });
  return { ...proc, name, origin: `http://127.0.0.1:${port}` };
}

export const describeNode = (n: IdportNode) => `\n--- node ${n.name} stdout:\n${n.stdout()}\n--- node ${n.name} stderr:\n${n.stderr()}`;

/** The URL from the startup line `idport is serving <url> (…`. */
export const servingUrl = (n: IdportNode, ms = 20_000) =>
  waitFor(`node ${n.name}'s startup line`, ms, () => /^idport is serving (\S+) \(/m.exec(n.stdout())?.[1], () => describeNode(n));

/** Resolves with the exit, or fails after `ms`. */
export function exitWithin(n: IdportNode, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    n.exited.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`node ${n.name} still running ${ms} ms later${describeNode(n)}`)), ms);
    }),
  ]);
}

/** SIGTERM to every node: each exits 0 within 10 s, with no stack trace on stderr. */
export async function expectCleanStop(nodes: IdportNode[]): Promise<void> {
  for (const n of nodes) n.child.kill('SIGTERM');
  const exits = await Promise.all(nodes.map((n) => exitWithin(n, 10_000)));
  for (const exit of exits) expect(exit).toMatchObject({ code: 0, signal: null });
  expect(stackLines(nodes.map((n) => n.stderr()).join(''))).toEqual([]);
}

/** Runs `idport …args --json` on the nodes' store and config; resolves with the one JSON object it prints. */
export async function cliJson(setup: NodeSetup, args: string[]): Promise<Record<string, unknown>> {
  const run = await runCli(setup.databaseUrl, [...args, '--json'], undefined, 20_000, { ISSUER: setup.issuer, IDPORT_CONFIG: setup.configFile });
  if (run.code !== 0) throw new Error(`idport ${args.join(' ')} failed (${run.code})\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`idport ${args.join(' ')}: stdout is not one JSON object: ${run.stdout}`);
  }
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** openid-client's view of one node: the issuer's discovery document with its endpoints on `origin`. */
export function configOn(origin: string, meta: Record<string, unknown>, client: { client_id: string; client_secret: string }): oidc.Configuration {
  const issuer = meta.issuer as string;
  const server: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    const onIssuer = key !== 'issuer' && typeof value === 'string' && value.startsWith(`${issuer}/`);
    server[key] = onIssuer ? origin + value.slice(issuer.length) : value;
  }
  const config = new oidc.Configuration(server as oidc.ServerMetadata, client.client_id, client.client_secret, oidc.ClientSecretBasic(client.client_secret));
  oidc.allowInsecureRequests(config);
  return config;
}
