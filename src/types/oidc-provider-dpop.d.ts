/**
 * oidc-provider's own DPoP proof validation (9.x, lib/helpers/validate_dpop.js), which its built-in
 * grants use and a grant registered with registerGrantType is not handed. Imported by path so a
 * token exchange checks proofs exactly as /token does for every other grant (htm, htu, iat, nonces).
 */
declare module 'oidc-provider/lib/helpers/validate_dpop.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC } from 'oidc-provider';

  export interface DpopResult {
    thumbprint: string;
    jti: string;
    iat: number;
  }
  export default function validateDpop(provider: Provider, ctx: KoaContextWithOIDC, accessToken?: string): Promise<DpopResult | undefined>;
  export function checkDpopReplay(provider: Provider, ctx: KoaContextWithOIDC, dPoP: DpopResult, clientId: string, ErrorClass?: unknown): Promise<void>;
}
