import type { KoaContextWithOIDC } from 'oidc-provider';

import type { ProviderForm } from '../pages/provider-pages.js';

/** The ui_locales of the request oidc-provider is handling, if it got that far. */
export function uiLocalesOf(ctx: KoaContextWithOIDC): unknown {
  try {
    return ctx.oidc?.params?.ui_locales;
  } catch {
    return undefined;
  }
}

/**
 * The form oidc-provider checks at `route`: its URL, and the xsrf secret its handler just put in
 * the session's state (the values its own form markup carries).
 */
export function providerForm(ctx: KoaContextWithOIDC, route: 'code_verification' | 'end_session_confirm'): ProviderForm {
  const secret = ctx.oidc.session?.state?.secret;
  return { action: ctx.oidc.urlFor(route), xsrf: typeof secret === 'string' ? secret : '' };
}
