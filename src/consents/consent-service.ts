import type Provider from 'oidc-provider';

import type { SignIns } from '../accounts/sign-ins.js';
import { allowedClaims, allowedOidcScopes, registeredApiScopes, type PolicyClient } from '../clients/client-access.js';
import type { ConsentRecord, ConsentStore } from '../storage/types.js';

type Grant = InstanceType<Provider['Grant']>;

const words = (scope: string | undefined) => (scope ?? '').split(' ').filter(Boolean);
const union = (...scopes: (string | undefined)[]) => [...new Set(scopes.flatMap(words))].join(' ');
const keep = (scope: string, allowed: (s: string) => boolean) => words(scope).filter(allowed).join(' ');

/** What a grant holds, in the consent's shape. */
function heldBy(grant: Grant): Pick<ConsentRecord, 'scope' | 'claims' | 'resources'> {
  const resources: Record<string, string> = {};
  for (const audience of Object.keys(grant.resources ?? {})) resources[audience] = grant.getResourceScope(audience);
  return { scope: grant.getOIDCScope(), claims: grant.getOIDCClaims(), resources };
}

/**
 * What each user agreed to let each client have. A grant belongs to one sign-in (one browser
 * session and client); this memory outlives it, so a later sign-in's grant starts with what the
 * user agreed to before and the consent page is skipped. Removing an app's access forgets the
 * consent and revokes every grant of that user and client, with their tokens.
 */
export function createConsentService({ consents, signIns }: { consents: ConsentStore; signIns: SignIns }) {
  return {
    /** Adds what `grant` holds now to what its user agreed to let its client have. */
    async remember(grant: Grant): Promise<void> {
      const { accountId, clientId } = grant;
      if (!accountId || !clientId) return;
      const before = await consents.find(accountId, clientId);
      const now = heldBy(grant);
      const resources = { ...before?.resources };
      for (const [audience, scope] of Object.entries(now.resources)) resources[audience] = union(resources[audience], scope);
      await consents.remember({
        accountId,
        clientId,
        scope: union(before?.scope, now.scope),
        claims: [...new Set([...(before?.claims ?? []), ...now.claims])],
        resources,
      });
    },

    /**
     * A new grant for a sign-in, holding what the user agreed to before, within what the client
     * may have today; undefined when the user never agreed to anything for it.
     */
    async prefill(provider: Provider, accountId: string, client: PolicyClient): Promise<Grant | undefined> {
      const consent = await consents.find(accountId, client.clientId);
      if (!consent) return undefined;
      const scopes = allowedOidcScopes(client);
      const claims = allowedClaims(client);
      const apiScopes = new Set(registeredApiScopes(client));
      const grant = new provider.Grant({ accountId, clientId: client.clientId });
      const scope = keep(consent.scope, (s) => scopes.has(s));
      if (scope) grant.addOIDCScope(scope);
      const agreed = consent.claims.filter((c) => claims.has(c));
      if (agreed.length) grant.addOIDCClaims(agreed);
      for (const [audience, given] of Object.entries(consent.resources)) {
        const kept = keep(given, (s) => apiScopes.has(s));
        if (kept) grant.addResourceScope(audience, kept);
      }
      await grant.save();
      return grant;
    },

    list: (accountId: string) => consents.listByAccount(accountId),

    /** Forgets the consent and revokes every grant of the user and client; returns the grants revoked. */
    async removeAccess(accountId: string, clientId: string): Promise<string[]> {
      await consents.forget(accountId, clientId);
      return signIns.revokeGrants(accountId, clientId);
    },
  };
}

export type ConsentService = ReturnType<typeof createConsentService>;
