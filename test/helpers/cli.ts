/**
 * The `idport` command line for tests. `cli` runs a command in this process (the same runCli the
 * binary calls, with its own clean environment, stdin and captured output: no Node start-up per
 * command); `cliProcess` runs the real binary (bin/idport.js → dist/cli) as a child process, for
 * what only a process shows (exit status, output streams, start-up).
 */
import { runCli } from '../../src/cli/index.js';
import { cacheMaxStaleMs } from '../../src/storage/sqlite/sqlite-store.js';
import { cleanEnv, cliScript, killAll, root, sleep, spawnIdport } from './process.js';

export { root };
export const bin = cliScript;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for the CLI: only our store, nothing inherited that changes config. */
export const cliEnv = (databaseUrl: string): NodeJS.ProcessEnv => cleanEnv({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });

/**
 * Runs `idport …args` in this process with a time limit; `env` adds to the clean environment.
 * The command has its own store connection, like the binary: a server running on the same SQLite
 * file sees its changes once its row caches' staleness bound has passed (cacheMaxStaleMs; the
 * binary's start-up alone takes longer). So this returns after that bound, and a test can check
 * the server's view at once.
 */
export async function cli(databaseUrl: string, args: string[], input?: string, timeoutMs = 20_000, env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = {
    env: cleanEnv({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...env }),
    stdout: (text: string) => void (stdout += text),
    stderr: (text: string) => void (stderr += text),
    readStdin: () => input ?? '',
  };
  const code = await within(timeoutMs, runCli(args, io), () => `idport ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`);
  if (databaseUrl.startsWith('sqlite:')) await sleep(cacheMaxStaleMs + 10);
  return { code, stdout, stderr };
}

/** Runs `node bin/idport.js …args` as a child process with a hard time limit. */
export async function cliProcess(databaseUrl: string, args: string[], input?: string, timeoutMs = 20_000, env: Record<string, string> = {}): Promise<Run> {
  const proc = spawnIdport(cliScript, args, { env: { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...env }, stdin: true });
  proc.child.stdin!.end(input ?? '');
  const { code } = await within(timeoutMs, proc.exited, () => {
    proc.child.kill('SIGKILL');
    return `idport ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`;
  });
  // 'exit' can come before the pipes are drained: wait for them to close too
  await new Promise<void>((resolve) => (proc.child.stdout!.closed ? resolve() : proc.child.stdout!.once('close', () => resolve())));
  await new Promise<void>((resolve) => (proc.child.stderr!.closed ? resolve() : proc.child.stderr!.once('close', () => resolve())));
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** `work`, or a rejection with `timedOut()`'s message once `ms` have passed. */
async function within<T>(ms: number, work: Promise<T>, timedOut: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(timedOut())), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills any command still running (call from afterAll). */
export const killChildren = killAll;
