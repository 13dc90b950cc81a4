import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { format, loadCatalogs, placeholders } from '../../src/i18n/catalog.js';
import { createI18n, localesDir } from '../../src/i18n/i18n.js';
import { negotiateLocale } from '../../src/i18n/negotiate.js';
import { formatHtml, strong } from '../../src/pages/html.js';

const available = ['en', 'ko'];
const pick = (uiLocales: unknown, acceptLanguages: string[] = []) => negotiateLocale(available, { uiLocales, acceptLanguages }, 'en');

describe('negotiateLocale', () => {
  test('ui_locales beats Accept-Language', () => {
    expect(pick('ko', ['en-US', 'en'])).toBe('ko');
    expect(pick('en', ['ko-KR', 'ko'])).toBe('en');
  });

  test('ui_locales is a space-separated list in preference order: the first we have wins', () => {
    expect(pick('fr-CA fr ko en')).toBe('ko');
    expect(pick('  de\tko-KR  ')).toBe('ko');
  });

  test('Accept-Language decides when ui_locales names nothing we have (or is absent)', () => {
    expect(pick('fr de', ['ko-KR', 'en'])).toBe('ko');
    expect(pick(undefined, ['ko'])).toBe('ko');
    expect(pick(undefined, ['fr', 'en-GB', 'ko'])).toBe('en');
  });

  test('region and script tags map to their language: ko-KR, KO-kr and en-US', () => {
    expect(pick('ko-KR')).toBe('ko');
    expect(pick('KO-kr')).toBe('ko');
    expect(pick(undefined, ['ko-KR'])).toBe('ko');
    expect(pick('en-US', ['ko'])).toBe('en');
    expect(negotiateLocale(['en', 'zh-Hant'], { uiLocales: 'zh-Hant-TW' }, 'en')).toBe('zh-Hant');
  });

  test('a language we have only with a region serves the bare language: pt → pt-BR', () => {
    expect(negotiateLocale(['en', 'pt-BR'], { acceptLanguages: ['pt'] }, 'en')).toBe('pt-BR');
  });

  test('unknown languages, wildcards, junk and nothing at all fall back to the default', () => {
    expect(pick('fr de')).toBe('en');
    expect(pick(undefined, ['*'])).toBe('en');
    expect(pick(undefined, [])).toBe('en');
    expect(pick('', [''])).toBe('en');
    expect(pick('<script>alert(1)</script>', ['"><svg>'])).toBe('en');
    expect(pick(['ko'])).toBe('en');
    expect(pick(42)).toBe('en');
  });

  test('only tags we have are ever returned (spelled as we spell them)', () => {
    expect(negotiateLocale(['en', 'pt-BR'], { uiLocales: 'PT-br' }, 'en')).toBe('pt-BR');
  });
});

describe('the catalogues in locales/', () => {
  const catalogs = loadCatalogs(localesDir);
  const en = catalogs.get('en')!;

  test('English and Korean are there, English first', () => {
    expect([...catalogs.keys()].slice(0, 1)).toEqual(['en']);
    expect(catalogs.has('ko')).toBe(true);
  });

  test('en and ko have exactly the same keys', () => {
    expect(Object.keys(catalogs.get('ko')!).sort()).toEqual(Object.keys(en).sort());
  });

  test('every catalogue has exactly the English keys, with the same {placeholders} in each message', () => {
    for (const [tag, messages] of catalogs) {
      expect([tag, Object.keys(messages).sort()]).toEqual([tag, Object.keys(en).sort()]);
      for (const [key, message] of Object.entries(messages)) {
        expect([tag, key, placeholders(message)]).toEqual([tag, key, placeholders(en[key]!)]);
        expect(message.trim()).not.toBe('');
      }
    }
  });

  test('the wrong-credentials message is one sentence per language, the same for every failure', () => {
    expect(en['login.failed']).toBe('The username or password is incorrect.');
    expect(catalogs.get('ko')!['login.failed']).toBe('사용자 이름 또는 비밀번호가 올바르지 않습니다.');
  });

  test('English page text is what it always was', () => {
    expect(en).toMatchObject({
      'login.heading': 'Sign in',
      'login.username': 'Username or email',
      'login.password': 'Password',
      'consent.heading': 'Allow access?',
      'consent.allow': 'Allow',
      'consent.deny': 'Deny',
      'logout.heading': 'Sign out?',
      'logout.confirm': 'Yes, sign me out',
      'logout.stay': 'No, stay signed in',
      'loggedOut.heading': 'You are signed out',
      'account.remove': 'Remove access',
      'device.heading': 'Connect a device',
    });
  });
});

describe('loadCatalogs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idport-locales-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: unknown) => writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));

  test('a third language is one more file; nested keys flatten; a missing message falls back to English', () => {
    write('en.json', { a: { b: 'Hello {name}' }, c: 'Bye' });
    write('fr.json', { a: { b: 'Bonjour {name}' } });
    write('README.txt', 'not a catalogue');
    const i18n = createI18n(dir);
    expect(i18n.locales).toEqual(['en', 'fr']);
    expect(i18n.t('fr', 'a.b', { name: 'Ann' })).toBe('Bonjour Ann');
    expect(i18n.t('fr', 'c')).toBe('Bye');
    expect(i18n.has('fr', 'c')).toBe(false);
    expect(i18n.t('xx', 'c')).toBe('Bye');
    expect(() => i18n.t('en', 'nope')).toThrow(/nope/);
    expect(i18n.negotiate({ acceptsLanguages: () => ['fr-CA', 'en'] })).toBe('fr');
    expect(i18n.negotiate({ acceptsLanguages: () => ['fr-CA'] }, 'en')).toBe('en');
  });

  test('a file that is not JSON, holds a non-string, or is not named by a language tag is refused by name', () => {
    write('en.json', { a: 'x' });
    write('de.json', '{ a: ');
    expect(() => loadCatalogs(dir)).toThrow(/de\.json: not valid JSON/);
    write('de.json', { a: 1 });
    expect(() => loadCatalogs(dir)).toThrow(/de\.json: a must be a string/);
    rmSync(join(dir, 'de.json'));
    write('korean.json', { a: 'x' });
    expect(() => loadCatalogs(dir)).toThrow(/korean\.json: the file name must be a language tag/);
    rmSync(join(dir, 'korean.json'));
    rmSync(join(dir, 'en.json'));
    expect(() => loadCatalogs(dir)).toThrow(/no en\.json/);
  });
});

describe('formatting', () => {
  test('format fills known placeholders and leaves others', () => {
    expect(format('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });

  test('formatHtml escapes the message and plain values; strong(...) is bold and escaped inside', () => {
    expect(formatHtml('{client} wants <your> {product}', { client: strong('<img src=x>'), product: '"P" & Co' })).toBe(
      '<strong>&lt;img src=x&gt;</strong> wants &lt;your&gt; &quot;P&quot; &amp; Co',
    );
  });
});
