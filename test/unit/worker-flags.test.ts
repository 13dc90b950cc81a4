/**
 * V8's helper-thread pool, sized to the machine: `npm start` asks Node for cores − 1 threads
 * (`--v8-pool-size=0`) instead of its fixed 4, and each cluster worker gets its share of the cores
 * the workers leave free. An operator's own number is never overridden.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { helperThreadsPerWorker, workerExecArgv } from '../../src/cluster.js';

test('npm start runs Node with the pool sized by the machine', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  expect(pkg.scripts.start).toBe('node --v8-pool-size=0 dist/main.js');
});

test.each([
  [2, 2, 1], // WORKERS=auto on 2 cores: one helper each (Node's default would be 4 each)
  [8, 8, 1],
  [8, 2, 3], // the 6 free cores shared by 2 workers
  [8, 3, 1],
  [16, 4, 3],
  [2, 4, 1], // more workers than cores: still one
])('%i cores, %i workers: %i helper threads each', (cores, workers, helpers) => {
  expect(helperThreadsPerWorker(cores, workers)).toBe(helpers);
});

describe('a worker’s Node flags', () => {
  test('the primary’s flags, with the pool size added', () => {
    expect(workerExecArgv(['--enable-source-maps'], undefined, 3)).toEqual(['--enable-source-maps', '--v8-pool-size=3']);
  });

  test('`--v8-pool-size=0` (npm start) is resolved per worker: the later flag wins in Node', () => {
    expect(workerExecArgv(['--v8-pool-size=0'], undefined, 1)).toEqual(['--v8-pool-size=0', '--v8-pool-size=1']);
    expect(workerExecArgv([], '--v8-pool-size=0', 2)).toEqual(['--v8-pool-size=2']);
  });

  test('an operator’s own pool size is kept, on the command line or in NODE_OPTIONS, in either spelling', () => {
    expect(workerExecArgv(['--v8-pool-size=6'], undefined, 1)).toEqual(['--v8-pool-size=6']);
    expect(workerExecArgv(['--v8-pool-size', '6'], undefined, 1)).toEqual(['--v8-pool-size', '6']);
    expect(workerExecArgv([], ' --max-old-space-size=512  --v8-pool-size=6 ', 1)).toEqual([]);
    expect(workerExecArgv([], '--v8-pool-size 6', 1)).toEqual([]);
  });

  test('the command line wins over NODE_OPTIONS, as in Node: a 0 there is resolved even if NODE_OPTIONS names a number', () => {
    expect(workerExecArgv(['--v8-pool-size=0'], '--v8-pool-size=6', 1)).toEqual(['--v8-pool-size=0', '--v8-pool-size=1']);
  });
});

test('Node takes the last --v8-pool-size it is given, over NODE_OPTIONS too (what workerExecArgv relies on)', () => {
  const threads = (flags: string[], nodeOptions = '') =>
    Number(
      execFileSync(process.execPath, [...flags, '-e', "setTimeout(() => console.log(require('fs').readdirSync('/proc/self/task').length), 100)"], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: nodeOptions },
        timeout: 10_000,
      }),
    );
  const one = threads(['--v8-pool-size=1']);
  const four = threads(['--v8-pool-size=4']);
  expect(four - one).toBe(3);
  expect(threads(['--v8-pool-size=4', '--v8-pool-size=1'])).toBe(one);
  expect(threads(['--v8-pool-size=1'], '--v8-pool-size=4')).toBe(one);
});
