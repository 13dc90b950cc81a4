/**
 * Back-Channel Logout 1.0 §2.2 client metadata, our rules:
 * - backchannel_logout_uri: an absolute http(s) URI with no fragment and no credentials, for a
 *   client that signs users in (authorization_code). When idport runs on https ("production") it
 *   must be https, with no loopback exception: idport itself makes this request, server to server,
 *   and an http or loopback target would point it at services on its own machine.
 * - backchannel_logout_session_required: a boolean, and only with a backchannel_logout_uri.
 * Returns the problem, or undefined.
 */
export function checkBackchannelLogout(metadata: Record<string, unknown>, production: boolean): string | undefined {
  const uri = metadata.backchannel_logout_uri;
  const required = metadata.backchannel_logout_session_required;
  if (required !== undefined && typeof required !== 'boolean') return 'backchannel_logout_session_required must be a boolean';
  if (uri === undefined) return required ? 'backchannel_logout_session_required needs a backchannel_logout_uri' : undefined;
  if (typeof uri !== 'string') return 'backchannel_logout_uri must be a URI';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `backchannel_logout_uri: ${uri} is not an absolute URI`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `backchannel_logout_uri: ${uri} must be an http(s) URI`;
  if (uri.includes('#')) return `backchannel_logout_uri: ${uri} must not have a fragment`;
  if (url.username || url.password) return `backchannel_logout_uri: ${uri} must not carry credentials`;
  if (production && url.protocol !== 'https:') return `backchannel_logout_uri: ${uri} must use https (the issuer is https)`;
  const grants = Array.isArray(metadata.grant_types) ? metadata.grant_types : ['authorization_code'];
  if (!grants.includes('authorization_code')) return 'backchannel_logout_uri needs the authorization_code grant (a client that signs users in)';
  return undefined;
}
