import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

import { acr } from '../factors/assurance.js';
import { accountClientId } from '../self-service/account-client.js';
import { clientValue } from './client-metadata.js';

/**
 * Whether this authorization request needs a multi-factor sign-in: the client was registered with
 * --require-mfa; the deployment requires it (`mfa.required`), except for the account pages where
 * users set a factor up; or every acr the request names is the multi-factor one (a request that
 * accepts the single-factor acr too is satisfied by either).
 */
export function needsMfa(ctx: KoaContextWithOIDC, { required }: { required: boolean }): boolean {
  const { client, params } = ctx.oidc;
  if (client && clientValue(client, 'require_mfa') === true) return true;
  if (required && client?.clientId !== accountClientId) return true;
  const asked = typeof params?.acr_values === 'string' ? params.acr_values.split(' ').filter(Boolean) : [];
  return asked.length > 0 && asked.every((value) => value === acr.multiFactor);
}

/**
 * oidc-provider's interaction policy with one more login check: a request that needs a
 * multi-factor sign-in gets the login prompt (reason `mfa_required`) until the session has one.
 * Never silently less: with prompt=none it answers interaction_required.
 */
export function mfaInteractionPolicy(options: { required: boolean }) {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.push(
    new interactionPolicy.Check('mfa_required', 'a multi-factor sign-in is required', 'interaction_required', (ctx) =>
      needsMfa(ctx, options) && ctx.oidc.session?.acr !== acr.multiFactor ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT,
    ),
  );
  return policy;
}
