import type { I18n } from '../i18n/i18n.js';
import type { PageContext, PageOptions, SendPage } from '../pages/send-page.js';
import type { PageMessage } from './password-problem.js';

/** A message page: a heading, a lead and further lines, and links onward (catalogue keys). */
export interface Message {
  heading: string;
  lines: [PageMessage, ...PageMessage[]];
  links: { href: string; label: string }[];
}

export type SendMessage = (ctx: PageContext, message: Message, options?: PageOptions) => void;

/** Sends the `message` page ("check your email", "password changed", "account deleted") in the page's language. */
export function createSendMessage(sendPage: SendPage, i18n: I18n): SendMessage {
  return (ctx, { heading, lines: [lead, ...rest], links }, options = {}) => {
    sendPage(
      ctx,
      'message',
      (locale) => {
        const t = ({ key, params }: PageMessage) => i18n.t(locale, key, params);
        const title = t({ key: heading });
        return { title, heading: title, lead: t(lead), paragraphs: rest.map(t), links: links.map(({ href, label }) => ({ href, label: t({ key: label }) })) };
      },
      options,
    );
  };
}
