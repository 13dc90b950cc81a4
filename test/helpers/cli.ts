/** Runs the real `idport` command line (bin/idport.js → dist/cli) as a child process. */
import { cleanEnv, cliScript, killAll, root, spawnIdport } from './process.js';

export { root };
export const bin = cliScript;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for the CLI: only our store, nothing inherited that changes config. */
export const cliEnv = (databaseUrl: string): NodeJS.ProcessEnv => cleanEnv({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });

/** Runs `node bin/idport.js …args` with a hard time limit; `env` adds to the clean environment. */
export async function cli(databaseUrl: string, args: string[], input?: string, timeoutMs = 20_000, env: Record<string, string> = {}): Promise<Run> {
  const proc = spawnIdport(cliScript, args, { env: { DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...env }, stdin: true });
  proc.child.stdin!.end(input ?? '');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      reject(new Error(`idport ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`));
    }, timeoutMs);
  });
  try {
    const { code } = await Promise.race([proc.exited, timeout]);
    // 'exit' can come before the pipes are drained: wait for them to close too
    await new Promise<void>((resolve) => (proc.child.stdout!.closed ? resolve() : proc.child.stdout!.once('close', () => resolve())));
    await new Promise<void>((resolve) => (proc.child.stderr!.closed ? resolve() : proc.child.stderr!.once('close', () => resolve())));
    return { code, stdout: proc.stdout(), stderr: proc.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

/** Kills any command still running (call from afterAll). */
export const killChildren = killAll;
