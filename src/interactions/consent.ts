import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

import { allowedClaims, type PolicyClient } from '../clients/client-policy.js';
import type { ConsentService } from '../consents/consent-service.js';
import { scopeDescription } from '../provider/claims.js';
import type { ApiStore } from '../storage/types.js';
import type { Views } from '../views/render.js';
import type { Csrf } from './csrf.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface PromptDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/** The claims asked for one by one (claims parameter) that the client may have at all. */
const askableClaims = (asked: PromptDetails, client: PolicyClient) => {
  const allowed = allowedClaims(client);
  return (asked.missingOIDCClaims ?? []).filter((c) => allowed.has(c));
};

export interface ConsentPage {
  views: Views;
  csrf: Csrf;
  apis: ApiStore;
  found: Details;
  client: PolicyClient;
  clientName: string;
  username?: string | undefined;
}

export async function renderConsent(ctx: Context, { views, csrf, apis, found, client, clientName, username }: ConsentPage) {
  const asked = found.prompt.details as PromptDetails;
  const locale = ctx.state.locale as string;
  const describe = (name: string) => ({ name, description: scopeDescription(views.i18n, locale, name) });
  const resources = [];
  for (const [audience, scopes] of Object.entries(asked.missingResourceScopes ?? {})) {
    const api = await apis.find(audience);
    resources.push({ heading: views.i18n.t(locale, 'consent.api', { api: api?.name ?? audience }), scopes: scopes.map(describe) });
  }
  ctx.type = 'html';
  ctx.body = views.render('consent', locale, {
    uid: found.uid,
    csrf: csrf.token(found.uid),
    clientName,
    username,
    scopes: (asked.missingOIDCScope ?? []).map(describe),
    resources,
    claims: askableClaims(asked, client),
  });
}

/**
 * Records the user's consent in this sign-in's grant (the one it has, or a new one) and adds it
 * to what the user agreed to let the client have, so later sign-ins do not ask again. Claims
 * asked for one by one that the client's scopes do not cover are refused, never granted.
 */
export async function finishConsent(provider: Provider, consents: ConsentService, found: Details, client: PolicyClient): Promise<InteractionResults> {
  const asked = found.prompt.details as PromptDetails;
  const accountId = found.session?.accountId;
  const grant = found.grantId ? await provider.Grant.find(found.grantId) : new provider.Grant({ accountId, clientId: client.clientId });
  if (!grant) return { error: 'access_denied', error_description: 'the grant being changed no longer exists' };
  if (asked.missingOIDCScope) grant.addOIDCScope(asked.missingOIDCScope.join(' '));
  const claims = askableClaims(asked, client);
  if (claims.length) grant.addOIDCClaims(claims);
  const refused = (asked.missingOIDCClaims ?? []).filter((c) => !claims.includes(c));
  if (refused.length) grant.rejectOIDCClaims(refused);
  for (const [indicator, scopes] of Object.entries(asked.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await consents.remember(grant);
  return { consent: found.grantId ? {} : { grantId } };
}
