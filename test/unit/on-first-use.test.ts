import { onFirstUse } from '../../src/on-first-use.js';

test('loads once: calls at the same time and later ones share the first load', async () => {
  let loads = 0;
  const get = onFirstUse(async () => ({ n: ++loads }));
  const [a, b] = await Promise.all([get(), get()]);
  const c = await get();
  expect(loads).toBe(1);
  expect(a).toBe(b);
  expect(c).toBe(a);
});

test('a failed load fails its callers and is tried again by the next call', async () => {
  let loads = 0;
  const get = onFirstUse(async () => {
    loads += 1;
    if (loads === 1) throw new Error('module not there yet');
    return 'loaded';
  });
  await expect(Promise.all([get(), get()])).rejects.toThrow('module not there yet');
  expect(loads).toBe(1);
  await expect(get()).resolves.toBe('loaded');
  await expect(get()).resolves.toBe('loaded');
  expect(loads).toBe(2);
});
