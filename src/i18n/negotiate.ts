/** At most this many preferences are considered from each source. */
const maxPreferences = 20;

export interface LocalePreferences {
  /** the authorization (or logout) request's ui_locales: space-separated tags, most preferred first */
  uiLocales?: unknown;
  /** Accept-Language tags, most preferred first (Koa's ctx.acceptsLanguages()) */
  acceptLanguages?: readonly string[];
}

/** The available tag serving a requested one: exact, then less specific (ko-KR → ko), then same language (pt → pt-BR). */
function match(available: readonly string[], requested: string): string | undefined {
  const wanted = requested.trim().toLowerCase();
  if (!wanted || wanted === '*') return undefined;
  const find = (tag: string) => available.find((a) => a.toLowerCase() === tag);
  const parts = wanted.split('-');
  for (let n = parts.length; n > 0; n -= 1) {
    const found = find(parts.slice(0, n).join('-'));
    if (found) return found;
  }
  return available.find((a) => a.toLowerCase().split('-')[0] === parts[0]);
}

/**
 * The language for a page: the first of ui_locales we have, else the first Accept-Language we
 * have, else the fallback. Only tags from `available` are ever returned.
 */
export function negotiateLocale(available: readonly string[], { uiLocales, acceptLanguages = [] }: LocalePreferences, fallback: string): string {
  const fromRequest = typeof uiLocales === 'string' ? uiLocales.split(/\s+/).slice(0, maxPreferences) : [];
  for (const tag of [...fromRequest, ...acceptLanguages.slice(0, maxPreferences)]) {
    const found = match(available, tag);
    if (found) return found;
  }
  return fallback;
}
