import { createHash, randomBytes } from 'node:crypto';

/** The built-in first-party client /account signs users in with (through the normal login page). */
export const accountClientId = 'idport-account';

export function accountClient(issuer: string, productName: string) {
  return {
    client_id: accountClientId,
    client_name: `${productName} account`,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${issuer}/account/callback`],
    scope: 'openid',
    first_party: true,
  };
}

/**
 * Where /account sends a visitor with no session: our own authorization endpoint. Only the
 * sign-in it causes matters (the session cookie); the code that comes back is never redeemed.
 * `prompt: 'login'` asks a signed-in user to sign in again (before changing how they sign in).
 */
export function accountLoginUrl(issuer: string, { prompt, loginHint }: { prompt?: 'login'; loginHint?: string } = {}): string {
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: accountClientId,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${issuer}/account/callback`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('base64url'),
    ...(prompt ? { prompt } : {}),
    ...(loginHint ? { login_hint: loginHint } : {}),
  }).toString();
  return url.toString();
}
