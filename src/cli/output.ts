import type { CliIo } from './io.js';

/** Prints a command's result: exactly one JSON object with --json, readable lines otherwise. */
export function print(io: CliIo, result: Record<string, unknown>, json: boolean, text: () => string): void {
  io.stdout(json ? `${JSON.stringify(result)}\n` : `${text()}\n`);
}

export const table = (rows: Record<string, unknown>[], columns: string[]): string => {
  if (!rows.length) return '(none)';
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
};

export const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);
