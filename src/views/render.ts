import { Eta } from 'eta';

import { packageRoot } from '../config/load.js';

export type ViewName = 'login' | 'consent' | 'logout' | 'logged-out' | 'error' | 'device-code' | 'device-confirm' | 'device-done' | 'account';

/** Server-rendered pages from views/; every value is HTML-escaped unless the template opts out. */
export function createViews(productName: string) {
  const eta = new Eta({ views: `${packageRoot}views`, autoEscape: true, cache: true });
  return {
    render(name: ViewName, data: Record<string, unknown>): string {
      return eta.render(name, { productName, ...data });
    },
  };
}

export type Views = ReturnType<typeof createViews>;
