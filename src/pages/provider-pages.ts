import type { I18n } from '../i18n/i18n.js';
import { deviceCodeError } from './device.js';
import type { ErrorOut, ErrorPageContext, ShowErrorPage } from './error.js';
import type { PageContext, SendPage } from './send-page.js';

/** A form oidc-provider checks: where it posts, and the xsrf value the browser session holds. */
export interface ProviderForm {
  action: string;
  xsrf: string;
}

/** Every page asks for the request's ui_locales, tried before Accept-Language. */
interface Localized {
  uiLocales?: unknown;
}

/**
 * The pages oidc-provider's hooks send (logout, device flow, its errors). The provider hands
 * over plain values; it renders nothing itself.
 */
export interface ProviderPages {
  /** the languages pages come in, English first (discovery's ui_locales_supported) */
  readonly locales: readonly string[];
  logout(ctx: PageContext, page: Localized & { form: ProviderForm; clientName?: string | undefined; postLogoutRedirectUri?: unknown }): void;
  loggedOut(ctx: PageContext, page: Localized & { clientName?: string | undefined }): void;
  /** the code entry page; `error` is what oidc-provider shows it again with, if anything */
  deviceCode(ctx: PageContext, page: Localized & { form: ProviderForm; error?: unknown }): void;
  deviceConfirm(ctx: PageContext, page: Localized & { form: ProviderForm; userCode: string; clientName: string; device?: string | undefined }): void;
  deviceDone(ctx: PageContext, page: Localized & { clientName?: string | undefined }): void;
  error(ctx: ErrorPageContext, out: ErrorOut, page: Localized): void;
}

export interface ProviderPageDeps {
  sendPage: SendPage;
  showErrorPage: ShowErrorPage;
  i18n: I18n;
}

export function createProviderPages({ sendPage, showErrorPage, i18n }: ProviderPageDeps): ProviderPages {
  return {
    locales: i18n.locales,
    logout(ctx, { form, clientName, postLogoutRedirectUri, uiLocales }) {
      sendPage(ctx, 'logout', { form, clientName }, { uiLocales, formTargets: [postLogoutRedirectUri] });
    },
    loggedOut(ctx, { clientName, uiLocales }) {
      sendPage(ctx, 'logged-out', { clientName }, { uiLocales });
    },
    deviceCode(ctx, { form, error, uiLocales }) {
      sendPage(ctx, 'device-code', { ...form, error: deviceCodeError(error) }, { uiLocales });
    },
    deviceConfirm(ctx, { form, userCode, clientName, device, uiLocales }) {
      sendPage(ctx, 'device-confirm', { ...form, userCode, clientName, device }, { uiLocales });
    },
    deviceDone(ctx, { clientName, uiLocales }) {
      sendPage(ctx, 'device-done', { clientName }, { uiLocales });
    },
    error(ctx, out, { uiLocales }) {
      showErrorPage(ctx, out, { locale: i18n.negotiate(ctx, uiLocales) });
    },
  };
}
