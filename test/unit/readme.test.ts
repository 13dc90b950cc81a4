import { readFileSync } from 'node:fs';

import { describeConfig } from '../../src/config/describe.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README configuration table lists every setting with its env variable and default', () => {
  for (const row of describeConfig()) {
    const line = `| \`${row.key}\` | ${row.env ? `\`${row.env}\`` : ''} | ${row.default === undefined ? '' : `\`${JSON.stringify(row.default)}\``} | ${row.description} |`;
    expect(readme).toContain(line);
  }
});

test('the README test command is the one .ci/run runs (after npm ci)', () => {
  const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
  expect(readme).toContain('npm install && npm start');
  expect(readme).toMatch(/```sh\nnpm test\n```/);
  // .ci/run installs with `npm ci`, then runs exactly `npm test` (piped to its log)
  expect(ci).toMatch(/^both_npm_ci\(\) \{$/m);
  expect(ci).toMatch(/^ {2}npm ci \|\| rc=\$\?$/m);
  expect(ci).toMatch(/^if phase "npm ci \(.*" both_npm_ci; then$/m);
  expect(ci).toMatch(/^\s*npm test 2>&1 \| tee "\$log"$/m);
  expect(ci.indexOf('npm ci')).toBeLessThan(ci.indexOf('npm test 2>&1'));
});
