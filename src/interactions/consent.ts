import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

import { scopeDescription } from '../provider/claims.js';
import type { ConsentStore } from '../storage/types.js';
import type { Views } from '../views/render.js';
import type { Csrf } from './csrf.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface PromptDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

export async function renderConsent(
  ctx: Context,
  { views, csrf, found, clientName, username }: { views: Views; csrf: Csrf; found: Details; clientName: string; username?: string | undefined },
) {
  const asked = found.prompt.details as PromptDetails;
  const scopes = [...(asked.missingOIDCScope ?? []), ...Object.values(asked.missingResourceScopes ?? {}).flat()];
  const locale = ctx.state.locale as string;
  ctx.type = 'html';
  ctx.body = views.render('consent', locale, {
    uid: found.uid,
    csrf: csrf.token(found.uid),
    clientName,
    username,
    scopes: [...new Set(scopes)].map((name) => ({ name, description: scopeDescription(views.i18n, locale, name) })),
    claims: asked.missingOIDCClaims ?? [],
  });
}

/**
 * Records the user's consent in a grant (new, or the one this session already has for the client)
 * and remembers it for the account and client, so later sign-ins do not ask again.
 */
export async function finishConsent(provider: Provider, consents: ConsentStore, found: Details): Promise<InteractionResults> {
  const asked = found.prompt.details as PromptDetails;
  const accountId = found.session?.accountId;
  const grant = found.grantId
    ? await provider.Grant.find(found.grantId)
    : new provider.Grant({ accountId, clientId: String(found.params.client_id) });
  if (!grant) return { error: 'access_denied', error_description: 'the grant being changed no longer exists' };
  if (asked.missingOIDCScope) grant.addOIDCScope(asked.missingOIDCScope.join(' '));
  if (asked.missingOIDCClaims) grant.addOIDCClaims(asked.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(asked.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  if (accountId) await consents.remember(accountId, String(found.params.client_id), grantId);
  return { consent: found.grantId ? {} : { grantId } };
}
