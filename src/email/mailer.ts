import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';

import type { Config } from '../config/schema.js';

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** the link the message is about (logged by the outbox, so a developer can click it) */
  link?: string;
}

/** No way to deliver email here (production without an SMTP server): nothing was sent. */
export class MailUnavailableError extends Error {
  readonly code = 'ERR_MAIL_UNAVAILABLE';
}

export interface Mailer {
  /** where messages go, for start-up and logs: `smtp://host:port` (no credentials) or the outbox folder */
  readonly destination: string;
  send(message: EmailMessage): Promise<void>;
}

/**
 * Email: over SMTP (nodemailer) when `email.smtpUrl` is set. Without one, in development, to the
 * outbox — one file per message in `email.outboxDir` and one log line with its link — so the
 * one-command start works without a mail server; in production nothing is sent
 * (MailUnavailableError), since an outbox there would put account links in files and logs.
 * Links always use the issuer URL, never a request's Host.
 */
export function createMailer(email: Config['email'], logger: Logger, { production }: { production: boolean }): Mailer {
  if (email.smtpUrl) {
    const { smtpUrl } = email;
    // nodemailer is loaded with the first message: most requests send none (~5 MB resident).
    let transport: Promise<Transporter> | undefined;
    const connect = () => (transport ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(smtpUrl)));
    const { protocol, host } = new URL(smtpUrl);
    return {
      destination: `${protocol}//${host}`,
      async send({ to, subject, text, html }) {
        await (await connect()).sendMail({ from: email.from, to, subject, text, html });
      },
    };
  }
  if (production) {
    return {
      destination: 'nowhere (no SMTP server set)',
      async send() {
        throw new MailUnavailableError('no SMTP server is set (email.smtpUrl / SMTP_URL): the message was not sent');
      },
    };
  }
  const dir = resolve(email.outboxDir);
  return {
    destination: dir,
    async send({ to, subject, text, html, link }) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 8)}.html`);
      const page = `<!-- To: ${to} | Subject: ${subject} -->\n${html}\n<!--\n${text}\n-->\n`;
      writeFileSync(file, page, { mode: 0o600 });
      logger.info({ kind: 'outbox', to, subject, link, file }, `email to ${to} written to the outbox (no SMTP server set)`);
    },
  };
}
