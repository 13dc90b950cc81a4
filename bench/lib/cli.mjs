/**
 * The command line of every bench script: parseArgs with --help (which prints the script's
 * opening doc comment), usage errors that exit 2, and the check that dist/ was built.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The Node flags `npm start` runs idport with (package.json's start script, between `node` and the
 * script), so every server under test runs as a deployment does.
 */
export const startFlags = (() => {
  const start = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start.split(/\s+/);
  return start.slice(1, start.indexOf('dist/main.js'));
})();

/** `name` prefixes usage errors; `dist` is the built file the script needs; `npmScript` runs the build first. */
export function benchCli({ script, name, options, dist, npmScript }) {
  const usage = (msg) => {
    process.stderr.write(`${name}: ${msg}\n`);
    process.exit(2);
  };
  let args;
  try {
    ({ values: args } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h', default: false } }, strict: true }));
  } catch (err) {
    usage(err.message);
  }
  if (args.help) {
    const source = readFileSync(fileURLToPath(script), 'utf8');
    process.stdout.write(source.split('*/')[0].replace(/^#!.*\n\/\*\*\n?/, '').replace(/^ \* ?/gm, '').trimEnd() + '\n');
    process.exit(0);
  }
  if (!existsSync(join(root, dist))) usage(`dist/ is missing; run \`npm run build\` first (or use \`npm run ${npmScript}\`).`);
  return { args, usage };
}
