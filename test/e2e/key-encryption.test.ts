import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import pino from 'pino';

import { loadConfig } from '../../src/config/load.js';
import { readKek } from '../../src/config/secrets.js';
import { startServer } from '../../src/server.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, 'idport.db')}`, logLevel: 'silent' });
const start = (kek?: Uint8Array) => startServer(config, { kek, logger: pino({ level: 'silent' }) });
const kekText = randomBytes(32).toString('base64url');

test('IDPORT_KEK must be 32 bytes of base64url', () => {
  expect(readKek({})).toBeUndefined();
  expect(readKek({ IDPORT_KEK: kekText })).toHaveLength(32);
  expect(() => readKek({ IDPORT_KEK: 'too-short' })).toThrow(/IDPORT_KEK: expected 32 random bytes/);
  expect(() => readKek({ IDPORT_KEK: `${kekText}!` })).toThrow(/IDPORT_KEK/);
});

test('with IDPORT_KEK, private keys are sealed in the store; the right key is needed to start', async () => {
  const kek = readKek({ IDPORT_KEK: kekText })!;
  const first = await start(kek);
  const jwks = await (await fetch(`${first.url}/jwks`)).json();
  const stored = [...(await first.store.keys.list('signing')), ...(await first.store.keys.list('cookie'))];
  expect(stored).toHaveLength(3);
  for (const key of stored) {
    expect(Object.keys(key.material).sort()).toEqual(key.kind === 'cookie' ? ['jwe'] : ['alg', 'jwe', 'kid']);
    expect(String(key.material.jwe).split('.')).toHaveLength(5);
    expect(JSON.stringify(key.material)).not.toMatch(/"d"|"k"/);
  }
  await first.close();

  await expect(start()).rejects.toMatchObject({ code: 'ERR_KEY_DECRYPTION', message: expect.stringMatching(/set IDPORT_KEK/) });
  await expect(start(new Uint8Array(randomBytes(32)))).rejects.toMatchObject({ code: 'ERR_KEY_DECRYPTION', message: expect.stringMatching(/does not decrypt/) });

  const again = await start(kek);
  expect(await (await fetch(`${again.url}/jwks`)).json()).toEqual(jwks);
  await again.close();
});
