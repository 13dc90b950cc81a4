import { errors, type Configuration } from 'oidc-provider';

import { checkClientUris, checkOwnProperty, ownProperties, type OwnProperty } from '../clients/client-policy.js';
import { checkRegistration } from '../clients/registration-policy.js';

/**
 * One of our own metadata values of an oidc-provider Client, which keeps extra metadata under its
 * own (snake_case) name; `client.metadata()` would rebuild the whole object on every request.
 */
export const clientValue = (client: object, name: OwnProperty): unknown => (client as Record<string, unknown>)[name];

/** The routes where a client writes its own metadata (RFC 7591 registration, RFC 7592 update). */
const selfRegistration = new Set(['registration', 'client_update']);

/**
 * oidc-provider's validation of client metadata, extended with our client policy
 * (src/clients/client-policy.ts): our own properties, and our redirect-URI rules, which it checks
 * once per client (with the first of our properties, which it is always called for). Metadata a
 * client registers itself goes through the whole policy, as the CLI's does, and may carry no
 * operator-only property (src/clients/registration-policy.ts).
 */
export function extraClientMetadata({ production }: { production: boolean }): NonNullable<Configuration['extraClientMetadata']> {
  return {
    properties: [...ownProperties],
    validator(ctx, key, value, metadata) {
      const route = (ctx as { oidc?: { route?: string; client?: object } } | undefined)?.oidc;
      const registering = key === ownProperties[0] && route?.route !== undefined && selfRegistration.has(route.route);
      const problem =
        (registering ? checkRegistration(metadata, { production, current: route?.route === 'client_update' ? (route.client as Record<string, unknown>) : undefined }) : undefined) ??
        (key === ownProperties[0] ? checkClientUris(metadata, production) : undefined) ??
        checkOwnProperty(key as OwnProperty, value, metadata);
      if (problem) throw new errors.InvalidClientMetadata(problem);
    },
  };
}
