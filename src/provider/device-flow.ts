import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import { setFormCsp } from '../http/security-headers.js';
import type { Views } from '../views/render.js';

type DeviceFlow = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/** oidc-provider's form markup carries the action and its xsrf token; we render our own accessible form. */
function formParts(form: string) {
  const action = /action="([^"]+)"/.exec(form)?.[1] ?? '';
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
  return { action, xsrf };
}

/** The ui_locales the device asked for, once we know which device (request) this is. */
function deviceUiLocales(ctx: KoaContextWithOIDC): unknown {
  const code = ctx.oidc.entities.DeviceCode as { params?: Record<string, unknown> } | undefined;
  return code?.params?.ui_locales;
}

/**
 * The device authorization grant (RFC 8628): a command-line or TV app shows a short code, the
 * user enters it at /device on a phone or computer, signs in and approves. Codes are 8 letters
 * from a 20-letter alphabet with no vowels (no words, no look-alikes), shown as XXXX-XXXX.
 */
export function createDeviceFlow(views: Views): DeviceFlow {
  return {
    enabled: true,
    charset: 'base-20',
    mask: '****-****',
    async userCodeInputSource(ctx, form, _out, err) {
      setFormCsp(ctx, []);
      const locale = views.i18n.negotiate(ctx, deviceUiLocales(ctx));
      const name = (err as { name?: string } | undefined)?.name;
      const error = !err
        ? undefined
        : (err as { userCode?: string }).userCode || name === 'NoCodeError'
          ? 'device.invalidCode'
          : name === 'AbortedError'
            ? 'device.cancelled'
            : 'device.failed';
      ctx.type = 'html';
      ctx.body = views.render('device-code', locale, { ...formParts(form), error: error && views.i18n.t(locale, error) });
    },
    async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
      setFormCsp(ctx, []);
      ctx.type = 'html';
      ctx.body = views.render('device-confirm', views.i18n.negotiate(ctx, deviceUiLocales(ctx)), {
        ...formParts(form),
        userCode,
        clientName: client.clientName ?? client.clientId,
        device: typeof deviceInfo?.userAgent === 'string' ? deviceInfo.userAgent : undefined,
      });
    },
    async successSource(ctx) {
      ctx.type = 'html';
      ctx.body = views.render('device-done', views.i18n.negotiate(ctx, deviceUiLocales(ctx)), { clientName: ctx.oidc.client?.clientName });
    },
  };
}
