import { readFileSync } from 'node:fs';

/**
 * Where a command reads its environment and secrets from and writes its output to. The `idport`
 * binary uses the process's own (processIo); a program (or a test) can run commands in-process
 * with its own.
 */
export interface CliIo {
  /** the environment the configuration is read from (DATABASE_URL, IDPORT_CONFIG, IDPORT_KEK …) */
  env: Readonly<Record<string, string | undefined>>;
  /** the command's result */
  stdout(text: string): void;
  /** errors, notices and audit lines */
  stderr(text: string): void;
  /** everything on standard input (for --password-stdin and --client-secret-stdin) */
  readStdin(): string;
}

/** The `idport` binary's: this process's environment and standard streams. */
export const processIo: CliIo = {
  env: process.env,
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  readStdin: () => readFileSync(0, 'utf8'),
};

/** A secret given on standard input: its content without the one line end a shell or echo adds. */
export const stdinSecret = (io: CliIo): string => io.readStdin().replace(/\r?\n$/, '');
