/* global fetch, AbortSignal, AbortController */
// "Log in with idport" from a command line: the device authorization grant (RFC 8628). It shows
// a code, you enter it at idport's /device page on any browser, and it receives tokens.
//
//   CLIENT_ID=… node examples/device-cli/device.mjs
//
// Environment: ISSUER (http://localhost:3000), CLIENT_ID (a public client registered with
// --grant-type device_code --public), API_AUDIENCE (https://api.example.com; empty = no API),
// API_URL (call GET /things there with the access token when set), SCOPE.
import { pathToFileURL } from 'node:url';

import * as oidc from 'openid-client';

/** Plain http is allowed only for an issuer on this machine (development). */
export function isLoopbackHttp(url) {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

const describeError = (err) => (err?.error ? `${err.error}${err.error_description ? ` (${err.error_description})` : ''}` : (err?.message ?? String(err)));

/**
 * Signs in with the device flow and prints what happens to `print` (a line at a time).
 *
 * @param {object} options
 * @param {string} [options.issuer]       default http://localhost:3000
 * @param {string} options.clientId
 * @param {string} [options.apiAudience]  default https://api.example.com; '' = no API
 * @param {string} [options.apiUrl]       when set, GET {apiUrl}/things with the access token
 * @param {string} [options.scope]        default "openid profile email" (+ read:things with an API)
 * @param {(line: string) => void} [options.print]
 * @param {AbortSignal} [options.signal]  stops polling
 * @returns {Promise<{ claims: object | undefined, tokens: object, api?: { status: number, body: unknown } }>}
 */
export async function run({
  issuer = 'http://localhost:3000',
  clientId,
  apiAudience = 'https://api.example.com',
  apiUrl,
  scope,
  print = (line) => console.log(line),
  signal,
} = {}) {
  if (!clientId) throw new Error('CLIENT_ID is required (idport clients add --grant-type device_code --public … prints it)');
  const issuerUrl = new URL(issuer);
  const insecure = isLoopbackHttp(issuerUrl);
  if (issuerUrl.protocol !== 'https:' && !insecure) throw new Error(`ISSUER must use https (plain http only on localhost): ${issuer}`);

  // A public client: no secret, so no client authentication (token_endpoint_auth_method none).
  let config;
  try {
    config = await oidc.discovery(issuerUrl, clientId, undefined, oidc.None(), {
      ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      timeout: 10,
    });
  } catch (err) {
    throw new Error(`discovery at ${issuer} failed (${err.cause?.code ?? err.message}); is idport running there?`);
  }

  const resource = apiAudience ? { resource: apiAudience } : {};
  const requested = scope ?? (apiAudience ? 'openid profile email read:things' : 'openid profile email');
  const device = await oidc.initiateDeviceAuthorization(config, { scope: requested, ...resource });

  print('');
  print(`To sign in, open ${device.verification_uri}`);
  print(`and enter the code: ${device.user_code}`);
  if (device.verification_uri_complete) print(`(or open ${device.verification_uri_complete})`);
  print(`Waiting for you to approve… (the code expires in ${Math.round(device.expires_in / 60)} minutes)`);
  print('');

  // Polls at the interval the server asks for (slowing down when told to) until approved,
  // denied or expired.
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, device, resource, { signal });
  const claims = tokens.claims();
  print('Signed in. ID token claims:');
  print(JSON.stringify(claims, null, 2));
  print(`Access token: scope "${tokens.scope ?? ''}", expires in ${tokens.expiresIn()} s${apiAudience ? `, for ${apiAudience}` : ''}`);

  let api;
  if (apiUrl) {
    const url = new URL('/things', apiUrl);
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let body = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    api = { status: res.status, body };
    print(`API GET ${url.href} → ${res.status}`);
    print(typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  }
  return { claims, tokens, api };
}

async function main() {
  const env = process.env;
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    await run({
      issuer: env.ISSUER || undefined,
      clientId: env.CLIENT_ID,
      apiAudience: env.API_AUDIENCE ?? undefined,
      apiUrl: env.API_URL || undefined,
      scope: env.SCOPE || undefined,
      signal: controller.signal,
    });
  } catch (err) {
    console.error(`device example: ${controller.signal.aborted ? 'cancelled' : describeError(err)}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
