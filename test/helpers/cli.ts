/** Runs the real `idport` command line (bin/idport.js → dist/cli) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const bin = join(root, 'bin/idport.js');
export const children = new Set<ChildProcess>();

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for the CLI: only our store, nothing inherited that changes config. */
export function cliEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' };
  for (const name of ['IDPORT_CONFIG', 'PORT', 'HOST', 'ISSUER', 'TRUST_PROXY', 'KEY_REFRESH_SECONDS', 'NODE_OPTIONS', 'npm_lifecycle_event']) {
    delete env[name];
  }
  return env;
}

/** Runs `node bin/idport.js …args` with a hard time limit. */
export function cli(databaseUrl: string, args: string[], input?: string, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cliEnv(databaseUrl), stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`idport ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/** Kills any command still running (call from afterAll). */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}
