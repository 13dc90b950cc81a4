import type Provider from 'oidc-provider';

import type { LogoutJob } from '../logout/backchannel-logout.js';

interface ClientPrototype {
  clientId: string;
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
  includeSid(): boolean;
}

/**
 * oidc-provider's back-channel logout (features.backchannelLogout: discovery, the client metadata
 * backchannel_logout_uri and backchannel_logout_session_required, and end_session naming each
 * client of the ending session with its sid), with two changes on this provider's Client class:
 *
 * - delivery: end_session awaits `client.backchannelLogout(sub, sid)` before it answers, and the
 *   library's own version POSTs right there, so a slow client would hold up the sign-out page.
 *   Ours hands the job to our delivery queue and returns at once (src/logout/). oidc-provider's
 *   'backchannel.success' event then means "queued"; our audit events say how delivery ended.
 * - sid: every ID token of a client with a backchannel_logout_uri carries `sid` (the library adds
 *   it only with backchannel_logout_session_required), and every logout token does too, so a
 *   client can always match a logout token to the sign-in it ends.
 */
export function deliverLogoutTokensThrough(provider: Provider, notify: (job: LogoutJob) => void): void {
  const proto = provider.Client.prototype as unknown as ClientPrototype;
  proto.backchannelLogout = async function backchannelLogout(this: ClientPrototype, sub, sid) {
    notify({ clientId: this.clientId, sub, sid, reason: 'end_session' });
  };
  proto.includeSid = function includeSid(this: ClientPrototype) {
    return Boolean(this.backchannelLogoutUri);
  };
}
