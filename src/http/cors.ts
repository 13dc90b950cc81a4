/**
 * oidc-provider's clientBasedCORS: browser apps get CORS at the token, userinfo and revocation
 * endpoints only from the origins they registered (web_origins; oidc-provider never sends CORS
 * headers at the authorization endpoint).
 */
export function allowRegisteredOrigins(_ctx: unknown, origin: string, client: object): boolean {
  const origins = (client as { web_origins?: unknown }).web_origins;
  return Array.isArray(origins) && origins.includes(origin);
}
