import { errors, type Configuration } from 'oidc-provider';

import { checkClientUris, checkOwnProperty, ownProperties, type OwnProperty } from '../clients/client-policy.js';

/**
 * One of our own metadata values of an oidc-provider Client, which keeps extra metadata under its
 * own (snake_case) name; `client.metadata()` would rebuild the whole object on every request.
 */
export const clientValue = (client: object, name: OwnProperty): unknown => (client as Record<string, unknown>)[name];

/**
 * oidc-provider's validation of client metadata, extended with our client policy
 * (src/clients/client-policy.ts): our own properties, and our redirect-URI rules, which it checks
 * once per client (with the first of our properties, which it is always called for).
 */
export function extraClientMetadata({ production }: { production: boolean }): NonNullable<Configuration['extraClientMetadata']> {
  return {
    properties: [...ownProperties],
    validator(_ctx, key, value, metadata) {
      const problem =
        (key === ownProperties[0] ? checkClientUris(metadata, production) : undefined) ??
        checkOwnProperty(key as OwnProperty, value, metadata);
      if (problem) throw new errors.InvalidClientMetadata(problem);
    },
  };
}
