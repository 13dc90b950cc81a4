import type { UpstreamRecord } from '../storage/types.js';
import type { UpstreamProfile } from './profile.js';

/** What a sign-in at an upstream is bound to: kept in our interaction, never sent to the browser except state. */
export interface Checks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** One way of signing in at an upstream (OpenID Connect, GitHub's OAuth 2 and API). */
export interface UpstreamProtocol {
  /** Where to send the browser. UpstreamError when the upstream cannot be reached. */
  authorizationUrl(upstream: UpstreamRecord, redirectUri: string, checks: Checks): Promise<URL>;
  /** The user, from the upstream's answer at our callback (the full callback URL). UpstreamError otherwise. */
  finish(upstream: UpstreamRecord, callbackUrl: URL, checks: Checks): Promise<UpstreamProfile>;
}
