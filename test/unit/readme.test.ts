import { readFileSync } from 'node:fs';

import { describeConfig } from '../../src/config/describe.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README configuration table lists every setting with its env variable and default', () => {
  for (const row of describeConfig()) {
    const line = `| \`${row.key}\` | ${row.env ? `\`${row.env}\`` : ''} | ${row.default === undefined ? '' : `\`${JSON.stringify(row.default)}\``} | ${row.description} |`;
    expect(readme).toContain(line);
  }
});

test('the README test command is the one .ci/run runs', () => {
  expect(readme).toContain('npm install && npm start');
  expect(readme).toMatch(/```sh\nnpm test\n```/);
});
