const forbiddenSchemes = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:']);
const loopbackHosts = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Our rules for redirect URIs, on top of oidc-provider's own validation (RFC 9700 §2.1, §4.1):
 * absolute, no fragment, no script-capable scheme, no credentials, and — when idport runs on
 * https ("production") — plain http only to loopback (native apps, RFC 8252 §7.3).
 * Returns the problem, or undefined.
 */
export function checkRedirectUri(uri: string, { production }: { production: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${uri} is not an absolute URI`;
  }
  if (uri.includes('#')) return `${uri} must not have a fragment`;
  if (forbiddenSchemes.has(url.protocol)) return `${uri} uses a forbidden scheme (${url.protocol})`;
  if (url.username || url.password) return `${uri} must not carry credentials`;
  if (production && url.protocol === 'http:' && !loopbackHosts.has(url.hostname)) {
    return `${uri} must use https (plain http is allowed only for loopback addresses when the issuer is https)`;
  }
  return undefined;
}

/** scheme://host[:port] and nothing else */
export function isOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}
