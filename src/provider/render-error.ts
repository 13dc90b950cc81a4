import type { KoaContextWithOIDC } from 'oidc-provider';

import type { Views } from '../views/render.js';

const friendly: Record<string, string> = {
  invalid_request: 'The app sent a request we could not accept.',
  invalid_client: 'The app is not registered with us, or its registration is incomplete.',
  invalid_redirect_uri: 'The app asked to send you to an address it has not registered.',
  access_denied: 'Access was denied.',
  session_not_found: 'Your sign-in session has expired or was opened in another browser.',
  invalid_scope: 'The app asked for permissions it may not have.',
  server_error: 'Something went wrong on our side.',
};

export interface ErrorOut {
  error: string;
  error_description?: string | undefined;
}

/** The browser-facing error page, for oidc-provider's renderError and our own routes. */
export function renderErrorPage(views: Views, ctx: { type: string; body: unknown; state?: { requestId?: string } }, out: ErrorOut) {
  ctx.type = 'html';
  const generic = out.error === 'server_error';
  ctx.body = views.render('error', {
    title: 'Something went wrong',
    heading: { access_denied: 'Access denied', not_found: 'Page not found' }[out.error] ?? 'We could not complete your request',
    message: generic ? friendly.server_error : (out.error_description ?? friendly[out.error] ?? 'The request could not be completed.'),
    error: out.error,
    requestId: ctx.state?.requestId,
  });
}

export const createRenderError = (views: Views) => async (ctx: KoaContextWithOIDC, out: ErrorOut) => {
  renderErrorPage(views, ctx, out);
};
