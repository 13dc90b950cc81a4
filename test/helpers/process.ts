/**
 * Real idport processes for tests: the server (`dist/main.js`) and the CLI (`bin/idport.js`), each
 * started with ONE clean environment, so nothing from the developer's shell or CI configures them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { envKeys } from '../../src/config/load.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const mainScript = join(root, 'dist/main.js');
export const cliScript = join(root, 'bin/idport.js');

/**
 * Variables that change how idport runs besides the config's own (every key of `envKeys`):
 * the config file, the key-encryption key, Node's flags and cluster scheduling, and npm's
 * lifecycle name (which changes the CLI hint printed at start).
 */
const alsoRemoved = ['IDPORT_CONFIG', 'IDPORT_KEK', 'NODE_OPTIONS', 'NODE_ENV', 'NODE_CLUSTER_SCHED_POLICY', 'npm_lifecycle_event'];

/** This process's environment without anything that configures idport, plus `extra`. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [...Object.keys(envKeys), ...alsoRemoved]) delete env[name];
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when it exited */
  at: number;
}

export interface IdportProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves once the process has exited */
  exited: Promise<Exit>;
}

/** Every process started here, so a test file can kill what is left (killAll in afterAll). */
const running = new Set<ChildProcess>();

/** Starts `node <script> …args` with a clean environment plus `env`, output collected. */
export function spawnIdport(script: string, args: string[] = [], { env = {}, stdin = false }: { env?: Record<string, string | undefined>; stdin?: boolean } = {}): IdportProcess {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, env: cleanEnv(env), stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, at: Date.now() });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Kills every process spawnIdport started that is still running. */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns something other than undefined; fails after `ms`, with `detail()`. */
export async function waitFor<T>(what: string, ms: number, check: () => T | undefined | Promise<T | undefined>, detail: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail()}`);
    await sleep(25);
  }
}

/** What a process printed, for error messages. */
export const output = (proc: Pick<IdportProcess, 'stdout' | 'stderr'>) => `\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`;

/** Lines of a stack trace in some output (there should be none: errors are one line for people). */
export const stackLines = (text: string) => text.split('\n').filter((l) => /^\s{4}at /.test(l));
