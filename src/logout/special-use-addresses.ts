import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a URI a client chose must not reach: this host, private and shared networks,
 * link-local (cloud metadata services), documentation, benchmarking, multicast and reserved
 * ranges (IANA's special-purpose registries, the ranges oidc-provider's own fetch guard refuses).
 * IPv4-mapped IPv6 addresses are judged by their IPv4 address (BlockList does so).
 */
const specialUse = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.31.196.0', 24], ['192.52.193.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['192.175.48.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) specialUse.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 63], ['2001::', 23], ['2001:db8::', 32], ['2002::', 16],
  ['2620:4f:8000::', 48], ['3fff::', 20], ['5f00::', 16], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) specialUse.addSubnet(network, prefix, 'ipv6');

/** Whether an IP address (v4 or v6, without brackets) is one a client's URI must not reach. */
export function isSpecialUseAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return specialUse.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class SpecialUseAddressError extends Error {
  readonly code = 'ERR_SPECIAL_USE_ADDRESS';
  constructor(host: string, address: string) {
    super(host === address ? `${address} is a special-use address` : `${host} resolves to a special-use address (${address})`);
  }
}

/**
 * A `lookup` for node:http(s) requests that fails when the name resolves to a special-use
 * address: the address judged is the one connected to, so a name cannot pass the check and
 * then resolve elsewhere. (IP literals are not looked up: see `checkHost`.)
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true } as LookupAllOptions, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const refused = addresses.find((a) => isSpecialUseAddress(a.address));
    if (refused) return callback(new SpecialUseAddressError(hostname, refused.address), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0]!;
    return callback(null, first.address, first.family);
  });
};

/** Throws for a URL whose host is itself a special-use IP literal (such hosts are never looked up). */
export function checkHost(url: URL): void {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isSpecialUseAddress(host)) throw new SpecialUseAddressError(host, host);
}
