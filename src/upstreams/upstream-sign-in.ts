import { randomBytes } from 'node:crypto';

import { onFirstUse } from '../on-first-use.js';
import type { UpstreamRecord } from '../storage/types.js';
import { presets } from './presets.js';
import type { UpstreamProfile } from './profile.js';
import type { UpstreamRegistry } from './upstream-registry.js';
import type { Checks, UpstreamProtocol } from './upstream-protocol.js';

/** A sign-in at an upstream in progress: kept in our interaction (the store), never in the browser. */
export interface PendingUpstream extends Checks {
  upstreamId: string;
  /** epoch ms when it started */
  at: number;
}

/** How long a user may take at the upstream. */
export const upstreamSignInSeconds = 600;

/** The parameters of the upstream's answer that we carry from the callback to the interaction. */
export const answerParams = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'] as const;

/** 32 random bytes, base64url: a state, a nonce or a PKCE code verifier (RFC 7636 §4.1: 43 characters). */
const random = () => randomBytes(32).toString('base64url');

/** `state` is `<interaction uid>.<random>`: the callback finds the interaction from it, the interaction checks all of it. */
export const interactionOfState = (state: unknown): string | undefined => {
  const match = typeof state === 'string' ? /^([A-Za-z0-9_-]{8,64})\.[A-Za-z0-9_-]{16,128}$/.exec(state) : null;
  return match?.[1];
};

/**
 * Signing in at upstreams: the buttons, where to send the browser (with PKCE, state and nonce),
 * and who came back. Each upstream's redirect URI is `{issuer}/upstream/{id}/callback`.
 */
export function createUpstreamSignIn(registry: UpstreamRegistry, issuer: string) {
  // The protocols (openid-client and all) are loaded by the first sign-in at an upstream.
  const protocols = onFirstUse(() => import('./protocols.js').then((m) => m.createProtocols(registry)));
  const protocolOf = async (u: UpstreamRecord): Promise<UpstreamProtocol> => (await protocols())[presets[u.preset]?.protocol ?? 'oidc'];
  const redirectUri = (u: UpstreamRecord) => `${issuer}/upstream/${u.id}/callback`;

  return {
    redirectUri,
    find: registry.find,

    /** The login page's buttons: every upstream, by id. */
    async buttons(): Promise<{ id: string; label: string }[]> {
      return (await registry.list()).map((u) => ({ id: u.id, label: u.buttonLabel ?? u.name }));
    },

    /** Where the browser goes to sign in at the upstream, and what to keep until it comes back. UpstreamError if unreachable. */
    async start(upstream: UpstreamRecord, uid: string): Promise<{ url: URL; pending: PendingUpstream }> {
      const pending = { upstreamId: upstream.id, state: `${uid}.${random()}`, nonce: random(), codeVerifier: random(), at: Date.now() };
      const url = await (await protocolOf(upstream)).authorizationUrl(upstream, redirectUri(upstream), pending);
      return { url, pending };
    },

    /** Who the upstream says signed in, from its answer (the callback's parameters). UpstreamError otherwise. */
    async finish(upstream: UpstreamRecord, answer: URLSearchParams, pending: PendingUpstream): Promise<UpstreamProfile> {
      const callbackUrl = new URL(redirectUri(upstream));
      for (const name of answerParams) {
        const value = answer.get(name);
        if (value !== null) callbackUrl.searchParams.set(name, value);
      }
      return (await protocolOf(upstream)).finish(upstream, callbackUrl, pending);
    },
  };
}

export type UpstreamSignIn = ReturnType<typeof createUpstreamSignIn>;
