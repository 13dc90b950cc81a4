import type { Logger } from 'pino';

import type { Config } from '../config/schema.js';
import type { I18n } from '../i18n/i18n.js';
import { createMailer } from './mailer.js';
import { createEmailMessages, type EmailKind, type EmailValues } from './messages.js';

/** How long a link works, in words of the message's language (`email.duration.*`). */
const duration = (i18n: I18n, locale: string, seconds: number) =>
  seconds % 3600 === 0 ? i18n.t(locale, 'email.duration.hours', { n: seconds / 3600 }) : i18n.t(locale, 'email.duration.minutes', { n: Math.round(seconds / 60) });

/** Sending our emails: the message in the user's language, through SMTP or the outbox. */
export function createEmail({ config, i18n, logger }: { config: Readonly<Config>; i18n: I18n; logger: Logger }) {
  const mailer = createMailer(config.email, logger, { production: config.production });
  const messages = createEmailMessages({ i18n, branding: config.branding });
  return {
    mailer,
    /** Sends one message; the link works `validSeconds`. Throws MailUnavailableError when nothing can be sent. */
    send(kind: EmailKind, locale: string, values: Omit<EmailValues, 'validFor'>, validSeconds: number): Promise<void> {
      return mailer.send(messages.render(kind, locale, { ...values, validFor: duration(i18n, locale, validSeconds) }));
    },
  };
}

export type Email = ReturnType<typeof createEmail>;
