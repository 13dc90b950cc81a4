import type { Config } from '../config/schema.js';
import type { I18n } from '../i18n/i18n.js';
import { escapeHtml } from '../pages/html.js';
import type { EmailMessage } from './mailer.js';

/** The emails idport sends, each a link with a lifetime; texts in locales/*.json under `email.<kind>`. */
export type EmailKind = 'verify' | 'reset';

export interface EmailValues {
  to: string;
  /** whom it greets (the account's name or username) */
  name: string;
  /** the link (always on the issuer URL) */
  link: string;
  /** how long the link works, in words of the message's language */
  validFor: string;
}

/**
 * Email messages in the user's language, plain text and HTML (escaped; no images or scripts,
 * the product name and accent colour only), each about one link.
 */
export function createEmailMessages({ i18n, branding }: { i18n: I18n; branding: Config['branding'] }) {
  return {
    render(kind: EmailKind, locale: string, values: EmailValues): EmailMessage {
      const t = (key: string) => i18n.t(locale, `email.${kind}.${key}`, { product: branding.productName, ...values });
      const lines = [t('greeting'), '', t('body'), '', values.link, '', t('expires'), '', t('ignore'), '', `— ${branding.productName}`];
      const html = [
        `<!DOCTYPE html><html lang="${escapeHtml(locale)}"><body style="font-family:sans-serif;line-height:1.5">`,
        `<p>${escapeHtml(t('greeting'))}</p>`,
        `<p>${escapeHtml(t('body'))}</p>`,
        `<p><a href="${escapeHtml(values.link)}" style="color:${branding.primaryColor}">${escapeHtml(t('action'))}</a></p>`,
        `<p style="font-size:90%">${escapeHtml(values.link)}</p>`,
        `<p>${escapeHtml(t('expires'))}</p>`,
        `<p>${escapeHtml(t('ignore'))}</p>`,
        `<p>— ${escapeHtml(branding.productName)}</p>`,
        '</body></html>',
      ].join('\n');
      return { to: values.to, subject: t('subject'), text: lines.join('\n'), html, link: values.link };
    },
  };
}

export type EmailMessages = ReturnType<typeof createEmailMessages>;
