import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';

export const backchannelLogoutEvent = 'http://schemas.openid.net/event/backchannel-logout';

/** Who a logout token is about: the account, and the sid its client got in that session's ID tokens. */
export interface LogoutSubject {
  sub: string;
  sid?: string | undefined;
}

type ProviderClient = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;

interface LogoutIdToken {
  mask: Record<string, null>;
  set(key: string, value: unknown): void;
  issue(options: { use: 'logout' }): Promise<string>;
}

/**
 * A Logout Token (Back-Channel Logout 1.0 §2.4) for one client, made the way oidc-provider makes
 * its own: signed with the provider's keys and the client's id_token_signed_response_alg, header
 * `typ: logout+jwt`, claims iss, aud (the client), iat, exp (2 minutes), jti (new each time),
 * sub, sid when known, and the back-channel logout event; never a nonce.
 */
export async function signLogoutToken(provider: Provider, client: ProviderClient, { sub, sid }: LogoutSubject): Promise<string> {
  const IdToken = provider.IdToken as unknown as new (claims: { sub: string }, options: { client: ProviderClient; ctx: undefined }) => LogoutIdToken;
  const token = new IdToken({ sub }, { client, ctx: undefined });
  token.mask = { sub: null };
  token.set('events', { [backchannelLogoutEvent]: {} });
  token.set('jti', randomUUID());
  if (sid) token.set('sid', sid);
  return token.issue({ use: 'logout' });
}
