/**
 * The common-password check is a binary search over a compact copy of the package's list: it must
 * refuse every entry of the list (any letter case) and nothing else.
 */
import { createRequire } from 'node:module';

import { passwordProblem } from '../../src/accounts/password-policy.js';

const policy = { minLength: 1, maxLength: 1000 };
const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> };
const list = dictionary['passwords-common']!;
const oracle = new Set(list.map((p) => p.toLowerCase()));
const isCommon = (password: string) => passwordProblem(password, policy)?.code === 'common';

test('every entry of the list is refused, in any letter case (the first, the last and all between)', () => {
  expect(list.length).toBeGreaterThan(40_000);
  expect(list.filter((p) => !isCommon(p))).toEqual([]);
  expect(list.filter((p) => !isCommon(p.toUpperCase()))).toEqual([]);
  const sorted = [...oracle].sort();
  expect([isCommon(sorted[0]!), isCommon(sorted.at(-1)!)]).toEqual([true, true]);
});

test('nothing off the list is refused: neighbours of every entry, prefixes, the empty string, a newline', () => {
  const near = list.flatMap((p) => [`${p}x`, `${p}\n`, p.slice(0, -1), `\n${p}`, `${p} `, `~${p}`]);
  const wrong = near.filter((p) => isCommon(p) !== oracle.has(p.toLowerCase()));
  expect(wrong).toEqual([]);
  expect(near.filter(isCommon).length).toBeGreaterThan(0); // some neighbours are entries themselves
  expect(['', '\n', 'correct horse battery staple', 'zzzzzzzzzzzzzzzzzzzzzzzzzzz~'].filter(isCommon)).toEqual([]);
});
