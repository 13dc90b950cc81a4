import { Eta } from 'eta';

import { packageRoot } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { I18n } from '../i18n/i18n.js';
import { formatHtml, strong } from './html.js';

export type ViewName = 'login' | 'consent' | 'logout' | 'logged-out' | 'error' | 'device-code' | 'device-confirm' | 'device-done' | 'account';

export interface ViewDeps {
  branding: Config['branding'];
  i18n: I18n;
}

/**
 * Server-rendered pages from views/; every value is HTML-escaped unless the template opts out.
 * Pages are rendered in one language: templates say it.t('key') for text and it.th('key', …) for
 * text with markup (such as a bold strong(name)) placed by the translation.
 */
export function createViews({ branding, i18n }: ViewDeps) {
  const eta = new Eta({ views: `${packageRoot}views`, autoEscape: true, cache: true });
  return {
    i18n,
    productName: branding.productName,
    render(name: ViewName, locale: string, data: Record<string, unknown> = {}): string {
      const t = (key: string, params?: Record<string, unknown>) => i18n.t(locale, key, params);
      return eta.render(name, {
        title: t(`titles.${name}`),
        ...data,
        productName: branding.productName,
        logoUrl: branding.logoUrl,
        lang: locale,
        t,
        th: (key: string, params?: Record<string, unknown>) => formatHtml(i18n.t(locale, key), params),
        strong,
      });
    },
  };
}

export type Views = ReturnType<typeof createViews>;
