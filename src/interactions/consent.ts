import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

import { allowedClaims, type PolicyClient } from '../clients/client-access.js';
import type { ConsentService } from '../consents/consent-service.js';
import type { Csrf } from '../http/csrf.js';
import type { I18n } from '../i18n/i18n.js';
import { consentPage } from '../pages/consent.js';
import type { SendPage } from '../pages/send-page.js';
import type { ApiRegistry } from '../apis/api-registry.js';
import { interactionUrl } from './paths.js';

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

export interface ConsentPageDeps {
  sendPage: SendPage;
  i18n: I18n;
  csrf: Csrf;
  apis: ApiRegistry;
}

export interface ConsentAsked {
  found: Details;
  client: PolicyClient;
  clientName: string;
  username?: string | undefined;
  /** where the page's forms may lead besides us (the client's redirect URI) */
  formTargets: readonly string[];
}

/** The consent page for what this interaction asks: OpenID scopes, API scopes (by API name), claims. */
export async function sendConsent(ctx: Context, { sendPage, i18n, csrf, apis }: ConsentPageDeps, { found, client, clientName, username, formTargets }: ConsentAsked) {
  const asked = found.prompt.details as PromptDetails;
  const resources = [];
  for (const [audience, scopes] of Object.entries(asked.missingResourceScopes ?? {})) {
    const api = await apis.find(audience);
    resources.push({ api: api?.name ?? audience, scopes });
  }
  const page = consentPage(i18n, {
    interaction: interactionUrl(found.uid),
    csrf: csrf.token(found.uid),
    clientName,
    username,
    scopes: asked.missingOIDCScope ?? [],
    resources,
    claims: askableClaims(asked, client),
  });
  sendPage(ctx, 'consent', page, { locale: ctx.state.locale as string, formTargets });
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
