/** Markup we built ourselves (already escaped), as opposed to text that still needs escaping. */
export class Html {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** The same escaping eta applies to <%= … %>. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => entities[c]!);
}

/** <strong>text</strong>, with the text escaped. */
export const strong = (text: unknown) => new Html(`<strong>${escapeHtml(text)}</strong>`);

/**
 * A message with {placeholders} as HTML: the message and plain values are escaped, Html values
 * (such as strong(name)) go in as they are. Lets a translation put a bold name wherever its
 * grammar wants it.
 */
export function formatHtml(message: string, params: Readonly<Record<string, unknown>> = {}): string {
  return message
    .split(/(\{\w+\})/)
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name === undefined || !(name in params)) return escapeHtml(part);
      const value = params[name];
      return value instanceof Html ? value.html : escapeHtml(value);
    })
    .join('');
}
