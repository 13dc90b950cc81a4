import { createErrorPage } from './error.js';
import { createProviderPages } from './provider-pages.js';
import { createSendPage, type PageDeps } from './send-page.js';

/** Every page, built once: sendPage for our routes, the error page, and the pages oidc-provider sends. */
export function createPages(deps: PageDeps) {
  const sendPage = createSendPage(deps);
  const showErrorPage = createErrorPage(sendPage, deps.i18n);
  return { sendPage, showErrorPage, provider: createProviderPages({ sendPage, showErrorPage, i18n: deps.i18n }) };
}

export type Pages = ReturnType<typeof createPages>;
