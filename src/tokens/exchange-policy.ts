/**
 * The rules of RFC 8693 token exchange at idport, as pure functions (no I/O): which subject tokens
 * a client may exchange, which scopes the new token may carry, and who it names as the actor.
 * src/provider/token-exchange.ts applies them at the token endpoint.
 *
 * The rules, in short:
 * - the subject token is an access token for a user that idport issued (opaque or RFC 9068 JWT),
 *   still valid, for an API;
 * - the exchanging client is that API's resource server (its `introspect_for` lists the token's
 *   audience: it received the token as API A's backend) or the client the token was issued to. A
 *   token stolen by anyone else cannot be exchanged (the thief also needs the client's secret);
 * - the new token's scopes are the subject token's scopes that API B registers and the client may
 *   have at B (`api_scopes`), or fewer when asked; nothing else (invalid_scope). Scope names are
 *   idport's permission vocabulary (one name means one permission at every API registering it, as
 *   `clients add --scope` already assumes), so a user who agreed to `orders:read` for A gets a
 *   token that can only read orders at B: never a permission they did not agree to;
 * - delegation by default: `act: { sub: <client_id> }`, nested over the subject token's own `act`;
 *   impersonation (no new `act`) only for clients the operator registered with
 *   allow_impersonation, and an `act` the subject token already has is never dropped.
 */

export const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';

/** The RFC 8693 §4.1 actor claim: who acts, and for whom they in turn act. */
export interface Actor {
  sub: string;
  act?: Actor;
}

/** A valid subject token, whatever its format, as the rules need it. */
export interface SubjectToken {
  format: 'opaque' | 'jwt';
  accountId: string;
  /** the client it was issued to */
  clientId: string;
  /** the API it is for */
  audience: string;
  scopes: string[];
  /** expiry, epoch seconds */
  exp: number;
  act?: Actor | undefined;
  /** the grant (sign-in) it was issued under: opaque tokens only */
  grantId?: string | undefined;
  /** the DPoP key it is bound to */
  jkt?: string | undefined;
}

/** Why an exchange is refused: an OAuth error code and a description for the client. */
export interface Refusal {
  error: 'invalid_request' | 'invalid_target' | 'invalid_scope' | 'unauthorized_client';
  description: string;
}

export interface ExchangingClient {
  clientId: string;
  /** audiences of the APIs it is the resource server of (its introspect_for) */
  serves: readonly string[];
  /** clientAuthMethod 'none' */
  isPublic: boolean;
  impersonates: boolean;
}

/**
 * RFC 8693 §2.2.2: a subject token that is invalid for any reason, or unacceptable by policy, is
 * `invalid_request` (a MUST), not RFC 6749's invalid_grant.
 */
export const badSubject = (description: string): Refusal => ({ error: 'invalid_request', description });

/** The request's parameters, before any token is looked at. */
export function checkExchangeParams(params: Record<string, unknown>): Refusal | undefined {
  if (typeof params.subject_token !== 'string' || !params.subject_token) return { error: 'invalid_request', description: 'missing required parameter subject_token' };
  if (typeof params.subject_token_type !== 'string' || !params.subject_token_type) {
    return { error: 'invalid_request', description: 'missing required parameter subject_token_type' };
  }
  if (params.subject_token_type !== accessTokenType) {
    return { error: 'invalid_request', description: `unsupported subject_token_type: only ${accessTokenType} (an access token idport issued) is accepted` };
  }
  if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
    return { error: 'invalid_request', description: 'actor_token is not supported: the authenticated client is always the actor' };
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== accessTokenType) {
    return { error: 'invalid_request', description: `unsupported requested_token_type: only ${accessTokenType} is issued` };
  }
  return undefined;
}

/** The API the new token is for: `resource` or `audience` (one, or both the same), else the client's default. */
export function targetOf(params: Record<string, unknown>, defaultAudience: string | undefined): string | Refusal {
  const named = [params.resource, params.audience].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  if (named.some((v) => typeof v !== 'string' || !v)) return { error: 'invalid_target', description: 'resource and audience must be API audiences' };
  const distinct = [...new Set(named as string[])];
  if (distinct.length > 1) return { error: 'invalid_target', description: 'only one target API per exchange (resource and audience must name the same)' };
  const target = distinct[0] ?? defaultAudience;
  if (!target) return { error: 'invalid_target', description: 'name the API the token is for (resource or audience)' };
  return target;
}

/** Whether this client may exchange this subject token: the token's resource server, or its own client. */
export function mayExchange(subject: SubjectToken, client: ExchangingClient): Refusal | undefined {
  if (client.isPublic) return { error: 'unauthorized_client', description: 'a public client cannot exchange tokens' };
  if (subject.clientId === client.clientId || client.serves.includes(subject.audience)) return undefined;
  return badSubject('the subject token was neither issued to this client nor for an API it is the resource server of');
}

/**
 * The new token's scopes: `requested` (all when absent) out of the subject token's scopes that the
 * target API has and the client may have there (`grantable`). Never wider than either.
 */
export function narrowScopes(requested: string[] | undefined, subjectScopes: readonly string[], grantable: readonly string[]): string[] | Refusal {
  const held = new Set(subjectScopes);
  const allowed = new Set(grantable);
  if (requested?.length) {
    const beyondSubject = requested.filter((s) => !held.has(s));
    if (beyondSubject.length) return { error: 'invalid_scope', description: `the subject token does not carry ${beyondSubject.join(' ')}` };
    const beyondClient = requested.filter((s) => !allowed.has(s));
    if (beyondClient.length) return { error: 'invalid_scope', description: `this client may not have ${beyondClient.join(' ')} at the target API` };
    return [...new Set(requested)];
  }
  const scopes = subjectScopes.filter((s) => allowed.has(s));
  if (!scopes.length) return { error: 'invalid_scope', description: 'none of the subject token\'s scopes is one the target API has and this client may have there' };
  return scopes;
}

/** The new token's `act`: the client over the subject's chain (delegation), or the chain unchanged (impersonation). */
export function actorOf(subject: SubjectToken, client: ExchangingClient): Actor | Refusal | undefined {
  if (client.impersonates) return subject.act;
  const actor = subject.act ? { sub: client.clientId, act: subject.act } : { sub: client.clientId };
  return parseActor(actor) ? actor : badSubject(`the subject token has been exchanged too often (at most ${maxActorDepth} actors)`);
}

/** How many actors deep a chain of exchanges may go. */
export const maxActorDepth = 8;

/**
 * An `act` claim read from a stored or signed token (nested objects with a string sub), or
 * undefined when any level is malformed or the chain is deeper than maxActorDepth: callers refuse
 * such a token rather than drop part of the chain.
 */
export function parseActor(value: unknown, depth = 1): Actor | undefined {
  if (depth > maxActorDepth || typeof value !== 'object' || value === null) return undefined;
  const { sub, act } = value as { sub?: unknown; act?: unknown };
  if (typeof sub !== 'string' || !sub) return undefined;
  if (act === undefined) return { sub };
  const inner = parseActor(act, depth + 1);
  return inner ? { sub, act: inner } : undefined;
}

/** Seconds the new token may live: its API's lifetime, but never past the subject token's expiry. */
export const lifetimeOf = (natural: number, subjectExp: number, now: number): number => Math.min(natural, subjectExp - now);
