/**
 * A real SMTP server in the test process that keeps mail per recipient and may answer slowly
 * (to show that a page does not wait for the mail). Messages are parsed by smtp.ts's parseMail.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';

import { parseMail, type ReceivedMail } from './smtp.js';

export interface Mailbox {
  /** smtp://127.0.0.1:<port> */
  url: string;
  received: ReceivedMail[];
  /** The next message to `to` not taken yet, waiting for it up to `timeoutMs`. */
  next(to: string, timeoutMs?: number): Promise<ReceivedMail>;
  /** Waits `ms`, then takes and returns the messages to `to` that came (usually none expected). */
  settle(to: string, ms?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/** `delayMs`: how long the server takes to accept each message (a slow mail server). */
export async function startMailbox({ delayMs = 0 } = {}): Promise<Mailbox> {
  const received: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mail = parseMail(Buffer.concat(chunks).toString('utf8'), session.envelope.rcptTo.map((r) => r.address.toLowerCase()));
        setTimeout(() => {
          received.push(mail);
          callback();
        }, delayMs);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  const untaken = (to: string) => received.filter((m) => !taken.has(m) && m.to.includes(to.toLowerCase()));
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    async next(to, timeoutMs = 5000) {
      for (const deadline = Date.now() + timeoutMs; ; await sleep(20)) {
        const mail = untaken(to)[0];
        if (mail) {
          taken.add(mail);
          return mail;
        }
        if (Date.now() > deadline) throw new Error(`no email to ${to} within ${timeoutMs} ms`);
      }
    },
    async settle(to, ms = 400) {
      await sleep(ms);
      const mails = untaken(to);
      for (const m of mails) taken.add(m);
      return mails;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The reset link of a message (on the issuer URL). */
export function resetLink(mail: ReceivedMail): URL {
  if (!mail.link?.includes('/reset-password?token=')) throw new Error(`no reset link in:\n${mail.text}`);
  return new URL(mail.link);
}
