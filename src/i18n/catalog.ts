import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One language's messages, flattened to dotted keys ("login.heading"). */
export type Messages = Readonly<Record<string, string>>;

/** The language every page falls back to; its catalogue must exist and defines the keys. */
export const defaultLocale = 'en';

/** A file name (without .json) must be a BCP 47 language tag such as ko or pt-BR. */
const languageTag = /^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$/i;

function flatten(value: unknown, prefix: string, out: Record<string, string>, file: string): Record<string, string> {
  if (typeof value === 'string') {
    out[prefix] = value;
    return out;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${file}: ${prefix || '(root)'} must be a string or an object of strings`);
  }
  for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out, file);
  return out;
}

/**
 * Reads every *.json in `dir`, once at start: a language is one more file named by its tag.
 * Returns the catalogues by tag, English first.
 */
export function loadCatalogs(dir: string): Map<string, Messages> {
  const files = readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
  const catalogs = new Map<string, Messages>();
  for (const name of files) {
    const tag = name.slice(0, -'.json'.length);
    const file = join(dir, name);
    if (!languageTag.test(tag)) throw new Error(`${file}: the file name must be a language tag such as ko.json or pt-BR.json`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    catalogs.set(tag, Object.freeze(flatten(parsed, '', {}, file)));
  }
  const english = catalogs.get(defaultLocale);
  if (!english) throw new Error(`${dir}: no ${defaultLocale}.json`);
  return new Map([[defaultLocale, english], ...[...catalogs].filter(([tag]) => tag !== defaultLocale)]);
}

/** The {placeholders} a message uses, sorted. */
export function placeholders(message: string): string[] {
  return [...message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

/** Fills {name} placeholders; an unknown name is left as written. */
export function format(message: string, params: Readonly<Record<string, unknown>> = {}): string {
  return message.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}
