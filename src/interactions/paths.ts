/**
 * Where login and consent live. oidc-provider scopes the interaction cookie to this path, so our
 * interaction routes must be under it (the one place it is written).
 */
export const interactionPrefix = '/interaction';

/** The page of interaction `uid`; its forms post to `${interactionUrl(uid)}/login` and so on. */
export const interactionUrl = (uid: string): string => `${interactionPrefix}/${uid}`;
