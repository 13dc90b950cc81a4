/** A browser and the system it runs on, read from a User-Agent; undefined when we cannot tell. */
export interface DeviceName {
  browser: string | undefined;
  os: string | undefined;
}

/** First match wins: browsers built on Chrome name themselves before it; Safari comes last. */
const browsers: [RegExp, string][] = [
  [/\bEdgA?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bYaBrowser\//, 'Yandex Browser'],
  [/\bWhale\//, 'Whale'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\b(?:HeadlessChrome|Chrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

const systems: [RegExp, string][] = [
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

const first = (table: [RegExp, string][], ua: string) => table.find(([pattern]) => pattern.test(ua))?.[1];

/**
 * "Chrome" on "Linux": enough for someone to recognise their own devices on /account, not a full
 * User-Agent parser (the whole string stays in the session, shown nowhere).
 */
export function deviceName(userAgent: string): DeviceName {
  return { browser: first(browsers, userAgent), os: first(systems, userAgent) };
}
