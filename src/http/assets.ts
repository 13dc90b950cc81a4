import { readFileSync } from 'node:fs';
import type { Middleware } from 'koa';

import { packageRoot } from '../config/load.js';

/** WCAG relative luminance of #rrggbb. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** Text colour on the accent: white or the page's dark text, whichever contrasts more. */
function textOn(accent: string): string {
  const l = luminance(accent);
  const dark = '#1b1f24';
  return 1.05 / (l + 0.05) >= (l + 0.05) / (luminance(dark) + 0.05) ? '#fff' : dark;
}

/** The configured colours as a stylesheet (a file, not inline styles: the CSP allows none). */
export function themeCss(primaryColor: string): string {
  return `:root { --accent: ${primaryColor}; --accent-fg: ${textOn(primaryColor)}; }\n`;
}

/**
 * Serves the stylesheet, the theme built from config and the passkey script (the only script our
 * pages load: the CSP allows scripts from this origin and no inline ones), all read once at start.
 */
export function assets({ primaryColor }: { primaryColor: string }): Middleware {
  const css = 'text/css; charset=utf-8';
  const files: Record<string, { type: string; body: string | Buffer }> = {
    '/assets/idport.css': { type: css, body: readFileSync(`${packageRoot}public/idport.css`) },
    '/assets/theme.css': { type: css, body: themeCss(primaryColor) },
    '/assets/passkey.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(`${packageRoot}public/passkey.js`) },
  };
  return function serveAssets(ctx, next) {
    if (!Object.hasOwn(files, ctx.path) || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.type = files[ctx.path]!.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = files[ctx.path]!.body;
  };
}
