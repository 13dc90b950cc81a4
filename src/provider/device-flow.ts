import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import type { ProviderPages } from '../pages/provider-pages.js';
import { providerForm } from './page-inputs.js';

type DeviceFlow = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/** The ui_locales the device asked for, once we know which device (request) this is. */
function deviceUiLocales(ctx: KoaContextWithOIDC): unknown {
  const code = ctx.oidc.entities.DeviceCode as { params?: Record<string, unknown> } | undefined;
  return code?.params?.ui_locales;
}

/**
 * The device authorization grant (RFC 8628): a command-line or TV app shows a short code, the
 * user enters it at /device on a phone or computer, signs in and approves. Codes are 8 letters
 * from a 20-letter alphabet with no vowels (no words, no look-alikes), shown as XXXX-XXXX.
 * Our own pages replace oidc-provider's form markup: they post to the same action with the same
 * xsrf value (the session's).
 */
export function createDeviceFlow(pages: ProviderPages): DeviceFlow {
  return {
    enabled: true,
    charset: 'base-20',
    mask: '****-****',
    async userCodeInputSource(ctx, _form, _out, err) {
      pages.deviceCode(ctx, { form: providerForm(ctx, 'code_verification'), error: err, uiLocales: deviceUiLocales(ctx) });
    },
    async userCodeConfirmSource(ctx, _form, client, deviceInfo, userCode) {
      pages.deviceConfirm(ctx, {
        form: providerForm(ctx, 'code_verification'),
        userCode,
        clientName: client.clientName ?? client.clientId,
        device: typeof deviceInfo?.userAgent === 'string' ? deviceInfo.userAgent : undefined,
        uiLocales: deviceUiLocales(ctx),
      });
    },
    async successSource(ctx) {
      pages.deviceDone(ctx, { clientName: ctx.oidc.client?.clientName, uiLocales: deviceUiLocales(ctx) });
    },
  };
}
