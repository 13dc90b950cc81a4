import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';

import type { CounterStore } from '../storage/types.js';

/** How far a proof's iat may be from our clock (RFC 9449 §11.1 leaves it to the server). */
const proofWindowSeconds = 60;
const proofAlgs = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

export class DpopProofError extends Error {
  readonly code = 'ERR_DPOP_PROOF';
  constructor(
    readonly error: 'invalid_dpop_proof' | 'invalid_token',
    message: string,
  ) {
    super(message);
  }
}

export interface ProofInput {
  proof: string | undefined;
  method: string;
  /** the request's URL as the client addressed it */
  url: string;
  token: string;
  /** the thumbprint the access token is bound to (cnf.jkt) */
  jkt: string;
}

/**
 * Checks a DPoP proof for a request carrying a DPoP-bound access token (RFC 9449 §4.3, §7.1): a
 * dpop+jwt signed by the key the token is bound to, for this method and URL and this token, fresh,
 * and never seen before on any node (its jti is recorded atomically in the store).
 */
export async function checkDpopProof(counters: CounterStore, { proof, method, url, token, jkt }: ProofInput): Promise<void> {
  if (!proof) throw new DpopProofError('invalid_dpop_proof', 'a DPoP-bound token needs a DPoP proof header');
  let verified;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: proofAlgs, requiredClaims: ['jti', 'htm', 'htu', 'iat', 'ath'] });
  } catch {
    throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is malformed or its signature is invalid');
  }
  const { payload, protectedHeader } = verified;
  const target = new URL(url);
  target.search = '';
  target.hash = '';
  if (payload.htm !== method || payload.htu !== target.href) throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is for another request');
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > proofWindowSeconds) {
    throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is too old (or from the future)');
  }
  if (payload.ath !== createHash('sha256').update(token).digest('base64url')) throw new DpopProofError('invalid_dpop_proof', 'the DPoP proof is for another access token');
  if ((await calculateJwkThumbprint(protectedHeader.jwk!)) !== jkt) throw new DpopProofError('invalid_token', 'the access token is bound to another key');
  const key = `admin-dpop:${createHash('sha256').update(`${jkt}\0${String(payload.jti)}`).digest('base64url')}`;
  let fresh = false;
  await counters.update(key, (current, at) => {
    fresh = current === undefined;
    return current ?? { state: { seen: 1 }, expiresAt: at + 2 * proofWindowSeconds * 1000 };
  });
  if (!fresh) throw new DpopProofError('invalid_dpop_proof', 'this DPoP proof was used already');
}
