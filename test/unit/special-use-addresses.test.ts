import { guardedLookup, isSpecialUseAddress, SpecialUseAddressError } from '../../src/logout/special-use-addresses.js';

describe('isSpecialUseAddress', () => {
  test.each([
    '127.0.0.1', '127.255.0.9', '0.0.0.0', '10.0.0.1', '100.64.0.1', '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.168.1.1', '192.0.2.10', '198.18.0.1', '224.0.0.251', '255.255.255.255',
    '::', '::1', 'fe80::1', 'fd00::1', 'fc00::1', 'ff02::1', '2001:db8::1', '64:ff9b::a9fe:a9fe', '::ffff:127.0.0.1', '::ffff:a9fe:a9fe', '::FFFF:10.0.0.1',
  ])('%s is special-use', (address) => {
    expect(isSpecialUseAddress(address)).toBe(true);
  });

  test.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '192.169.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', 'example.com', 'localhost', ''])('%s is not (a name is judged by what it resolves to)', (address) => {
    expect(isSpecialUseAddress(address)).toBe(false);
  });
});

describe('guardedLookup', () => {
  const lookup = (host: string, all: boolean) =>
    new Promise<unknown>((resolve, reject) => {
      guardedLookup(host, { all }, (err: NodeJS.ErrnoException | null, address: unknown) => (err ? reject(err) : resolve(address)));
    });

  test('a name that resolves to loopback fails, whichever form the caller asks for', async () => {
    for (const all of [false, true]) {
      const err = await lookup('localhost', all).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SpecialUseAddressError);
      expect(String((err as Error).message)).toMatch(/^localhost resolves to a special-use address \(/);
    }
  });
});
