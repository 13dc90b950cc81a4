import type { Configuration } from 'oidc-provider';

import type { ProviderPages } from '../pages/provider-pages.js';
import { providerForm, uiLocalesOf } from './page-inputs.js';

type RpInitiatedLogout = NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>;

/**
 * RP-Initiated Logout: "Sign out?" (its form posts to oidc-provider's confirm endpoint with the
 * session's xsrf value, and may lead on to the client's post_logout_redirect_uri), then "Signed out".
 */
export function createLogout(pages: ProviderPages): RpInitiatedLogout {
  return {
    enabled: true,
    async logoutSource(ctx) {
      pages.logout(ctx, {
        form: providerForm(ctx, 'end_session_confirm'),
        clientName: ctx.oidc.client?.clientName,
        postLogoutRedirectUri: ctx.oidc.params?.post_logout_redirect_uri,
        uiLocales: uiLocalesOf(ctx),
      });
    },
    async postLogoutSuccessSource(ctx) {
      pages.loggedOut(ctx, { clientName: ctx.oidc.client?.clientName, uiLocales: uiLocalesOf(ctx) });
    },
  };
}
