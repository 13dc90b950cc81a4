import { readFileSync } from 'node:fs';
import type { Middleware } from 'koa';

import { packageRoot } from '../config/load.js';

/** Serves the stylesheet, read once at start. */
export function assets(): Middleware {
  const css = readFileSync(`${packageRoot}public/idport.css`);
  return async function serveAssets(ctx, next) {
    if (ctx.path !== '/assets/idport.css' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  };
}
