import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * The one storage interface. Every adapter (SQLite now, MongoDB later) implements it and
 * passes the contract suite in test/contract/. Adapters return `undefined` for records that
 * are missing or expired and throw only on I/O failure.
 */

/** A payload as oidc-provider hands it to its adapter. */
export interface OidcPayload {
  [key: string]: unknown;
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
}

/** oidc-provider's adapter contract, for one model (Session, AccessToken, Grant, …). */
export interface OidcModelStore {
  upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<OidcPayload | undefined>;
  findByUid(uid: string): Promise<OidcPayload | undefined>;
  findByUserCode(userCode: string): Promise<OidcPayload | undefined>;
  /** Marks the record consumed. Atomic: resolves true for exactly one of parallel callers. */
  consume(id: string): Promise<boolean>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export interface AccountRecord {
  /** stable opaque subject identifier */
  id: string;
  username: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  passwordHash: string;
  /** further standard claims (given_name, address, phone_number, …) */
  claims: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export type NewAccount = Omit<AccountRecord, 'createdAt' | 'updatedAt'>;

export class DuplicateError extends Error {
  readonly code = 'ERR_DUPLICATE';
  constructor(readonly field: string) {
    super(`${field} is already taken`);
  }
}

export interface AccountStore {
  /** Throws DuplicateError when username or email is taken (case-insensitively). */
  create(account: NewAccount): Promise<AccountRecord>;
  findById(id: string): Promise<AccountRecord | undefined>;
  /** Looks up by username or email, case-insensitively. */
  findByLogin(login: string): Promise<AccountRecord | undefined>;
  list(): Promise<AccountRecord[]>;
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>;
  remove(id: string): Promise<boolean>;
}

/** Client metadata in oidc-provider's (RFC 7591) shape; `client_id` is the key. */
export type ClientMetadata = Record<string, unknown> & { client_id: string };

export interface ClientStore {
  upsert(metadata: ClientMetadata): Promise<void>;
  find(clientId: string): Promise<ClientMetadata | undefined>;
  list(): Promise<ClientMetadata[]>;
  remove(clientId: string): Promise<boolean>;
}

/** An API (resource server) clients may ask access tokens for, by its audience (RFC 8707). */
export interface ApiRecord {
  audience: string;
  name: string | null;
  scopes: string[];
  tokenFormat: 'jwt' | 'opaque';
  /** access token lifetime for this API (seconds); null = the default */
  accessTokenTtl: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface ApiStore {
  upsert(api: Omit<ApiRecord, 'createdAt' | 'updatedAt'>): Promise<void>;
  find(audience: string): Promise<ApiRecord | undefined>;
  list(): Promise<ApiRecord[]>;
  remove(audience: string): Promise<boolean>;
}

/** A user's remembered consent for a client: which grant holds it. */
export interface ConsentRecord {
  accountId: string;
  clientId: string;
  grantId: string;
  updatedAt: number;
}

export interface ConsentStore {
  remember(accountId: string, clientId: string, grantId: string): Promise<void>;
  find(accountId: string, clientId: string): Promise<ConsentRecord | undefined>;
  listByAccount(accountId: string): Promise<ConsentRecord[]>;
  forget(accountId: string, clientId: string): Promise<boolean>;
}

export type KeyKind = 'signing' | 'cookie';

export interface KeyRecord {
  kid: string;
  kind: KeyKind;
  /** private JWK (signing) or { k: base64url secret } (cookie) */
  material: Record<string, unknown>;
  createdAt: number;
  /** set when a newer key replaced this one; it stays published until `expiresAt` */
  retiredAt: number | null;
  /** after this the key is neither used nor published */
  expiresAt: number | null;
}

export interface KeyStore {
  /** Keys of a kind that are not past `expiresAt`, newest first. */
  list(kind: KeyKind): Promise<KeyRecord[]>;
  /**
   * Inserts `keys` only if no usable key of that kind exists. Race-safe across processes:
   * when two nodes bootstrap at once, exactly one set wins. Returns true if these were stored.
   */
  insertIfNone(kind: KeyKind, keys: KeyRecord[]): Promise<boolean>;
  /** Atomically retires every current key of the kind (keeping it until `keepUntil`) and adds `keys`. */
  rotate(kind: KeyKind, keys: KeyRecord[], keepUntil: number): Promise<void>;
}

export interface RateLimiterOptions {
  /** namespace of the keys, e.g. 'login-fail-ip' */
  keyPrefix: string;
  /** points available per window */
  points: number;
  /** window length (seconds) */
  duration: number;
  /** how long a key stays blocked once its points run out (seconds; 0 = until the window ends) */
  blockDuration?: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'mongodb';
  model(name: string): OidcModelStore;
  readonly accounts: AccountStore;
  readonly clients: ClientStore;
  readonly keys: KeyStore;
  readonly apis: ApiStore;
  readonly consents: ConsentStore;
  /** A rate-limiter-flexible limiter whose counters live in this store, so they hold across nodes. */
  rateLimiter(options: RateLimiterOptions): RateLimiterAbstract;
  /** Deletes expired rows; returns how many. */
  sweep(): Promise<number>;
  /** Cheap liveness check of the backing database. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
