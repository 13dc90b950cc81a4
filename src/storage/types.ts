/**
 * The one storage interface. Every adapter (SQLite, PostgreSQL, MongoDB) implements it and passes the
 * contract suite in test/contract/, which pins each promise made here:
 * - records that are missing or expired are `undefined` (or not listed), never an error; so are
 *   lookups by a value no store holds (over 1,024 characters);
 * - when the database cannot be used (unreachable, closed, out of disk, locked too long), every
 *   operation rejects with StoreUnavailableError (`ERR_STORE_UNAVAILABLE`), and only then;
 * - returned records never alias what the store holds: accounts, clients and APIs may come back
 *   frozen and shared (never mutate them), everything else as a fresh copy.
 */

/** A payload as oidc-provider hands it to its adapter. */
export interface OidcPayload {
  [key: string]: unknown;
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
}

/** A token and what it is bound to: its grant, and the session it expires with (`boundKeys`). */
export interface BoundRecords {
  token: OidcPayload;
  /** the live Grant the token's `grantId` names; undefined when it has none or the grant is gone */
  grant: OidcPayload | undefined;
  /** the live Session whose uid is the token's `sessionUid`, when it expires with it (else undefined) */
  session: OidcPayload | undefined;
}

/** oidc-provider's adapter contract, for one model (Session, AccessToken, Grant, …). */
export interface OidcModelStore {
  upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<OidcPayload | undefined>;
  findByUid(uid: string): Promise<OidcPayload | undefined>;
  findByUserCode(userCode: string): Promise<OidcPayload | undefined>;
  /**
   * `find(id)` and, when found, the records it is bound to (`boundKeys`), each as `Grant.find` and
   * `Session.findByUid` would answer it: read at one moment where the database allows (SQLite: one
   * read batch; PostgreSQL: one statement). oidc-provider checks an access or refresh token against
   * both right after finding it.
   */
  findBound(id: string): Promise<BoundRecords | undefined>;
  /** Marks the record consumed. Atomic: resolves true for exactly one of parallel callers. */
  consume(id: string): Promise<boolean>;
  destroy(id: string): Promise<void>;
  /**
   * Removes the grant and every record, of any model, whose payload's `grantId` names it: codes
   * and tokens, and grants derived from it (token exchange), in one call on any model's store.
   */
  revokeByGrantId(grantId: string): Promise<void>;
  /**
   * Live records of an account (their payload's `accountId`), with their ids. Only Session and
   * Grant records are found this way; other models answer [].
   */
  findByAccount(accountId: string): Promise<{ id: string; payload: OidcPayload }[]>;
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

/** Where a page of accounts starts: after this (normalised username, id) key. */
export interface AccountPageKey {
  /** the account's username as `normalizeLogin` (storage/normalize.ts) gives it */
  usernameNorm: string;
  id: string;
}

export interface AccountPageQuery {
  /** only accounts whose key sorts after this one (none: from the first) */
  after?: AccountPageKey | undefined;
  /** at most this many accounts (a positive integer) */
  limit: number;
  /**
   * only accounts whose username, email or name contains this, literally (`%`, `_`, `*` … are
   * plain characters); ASCII letters match in any case, other characters at least in the same case.
   * A needle with a NUL character matches nothing.
   */
  contains?: string | undefined;
}

export interface AccountStore {
  /** Throws DuplicateError when username or email is taken (case-insensitively). */
  create(account: NewAccount): Promise<AccountRecord>;
  findById(id: string): Promise<AccountRecord | undefined>;
  /** Looks up by username or email, case-insensitively. */
  findByLogin(login: string): Promise<AccountRecord | undefined>;
  /** Every account, by normalised username. Loads them all: for small stores and the CLI. */
  list(): Promise<AccountRecord[]>;
  /**
   * One page of accounts in (normalised username, id) order, compared by code point, read through
   * an index in that order: a page costs its own rows, not the whole table (without `contains`).
   */
  page(query: AccountPageQuery): Promise<AccountRecord[]>;
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>;
  /** Changes the email (null removes it) and whether it is verified; DuplicateError('email') when taken. */
  setEmail(id: string, email: string | null, verified: boolean): Promise<boolean>;
  /**
   * Marks the email verified, only if the account's email is still `email` (case-insensitively):
   * a link sent to an earlier address cannot verify a later one.
   */
  markEmailVerified(id: string, email: string): Promise<boolean>;
  /** Replaces the display name and the further claims (each when given); false when there is no such account. */
  setProfile(id: string, profile: { name?: string | null; claims?: Record<string, unknown> }): Promise<boolean>;
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

/**
 * An initial access token for dynamic client registration (RFC 7591 §3): `idport registration
 * token create` mints one and prints it once; the store keeps only its hash.
 */
export interface RegistrationTokenRecord {
  /** public handle, for `registration token list` and `revoke` (never the token) */
  id: string;
  /** SHA-256 of the token, base64url */
  hash: string;
  /** registrations it allows; null = any number until it expires */
  maxUses: number | null;
  /** registrations made with it so far */
  used: number;
  createdAt: number;
  expiresAt: number;
}

export interface RegistrationTokenStore {
  /** DuplicateError('id') or DuplicateError('hash') when either is stored already. */
  create(token: Omit<RegistrationTokenRecord, 'used' | 'createdAt'>): Promise<void>;
  /** Live (unexpired) tokens, oldest first; used-up ones too, until they expire. */
  list(): Promise<RegistrationTokenRecord[]>;
  revoke(id: string): Promise<boolean>;
  /**
   * Takes one use of the live token with this hash, atomically across processes and nodes: of
   * parallel callers on a token with n uses left, exactly n win. Resolves the record as it is
   * after the use, or undefined (unknown, expired, revoked or used up).
   */
  use(hash: string): Promise<RegistrationTokenRecord | undefined>;
  /** Gives one use back (the registration it was taken for failed). Nothing when the token is gone or unused. */
  giveBack(id: string): Promise<void>;
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

/**
 * What a user agreed to let a client have, remembered across sign-ins (each sign-in has a grant of
 * its own, pre-filled from this). Scopes are space-separated, as in OAuth.
 */
export interface ConsentRecord {
  accountId: string;
  clientId: string;
  /** OpenID scopes */
  scope: string;
  /** claims agreed to one by one (the claims request parameter) */
  claims: string[];
  /** API audience → its scopes */
  resources: Record<string, string>;
  updatedAt: number;
}

export interface ConsentStore {
  /** Stores the consent, replacing any earlier one of that account and client. */
  remember(consent: Omit<ConsentRecord, 'updatedAt'>): Promise<void>;
  find(accountId: string, clientId: string): Promise<ConsentRecord | undefined>;
  /** Newest first. */
  listByAccount(accountId: string): Promise<ConsentRecord[]>;
  forget(accountId: string, clientId: string): Promise<boolean>;
  /** Forgets every consent of the account; returns how many. */
  forgetAccount(accountId: string): Promise<number>;
}

/** A passkey (WebAuthn credential) registered to an account. Binary values are base64url. */
export interface PasskeyRecord {
  /** the credential id */
  id: string;
  accountId: string;
  /** COSE public key */
  publicKey: string;
  /** the authenticator's signature counter as last seen (0 for authenticators without one) */
  counter: number;
  transports: string[];
  /** 'singleDevice' (bound to one authenticator) or 'multiDevice' (synced) */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  aaguid: string;
  /** what the user calls it */
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** An account's TOTP secret: `{ secret }` (base32), or sealed under IDPORT_KEK. */
export interface TotpRecord {
  accountId: string;
  material: Record<string, unknown>;
  createdAt: number;
}

/** Second factors and passkeys of accounts. */
export interface FactorStore {
  /** Throws DuplicateError('passkey') when the credential id is registered already (to anyone). */
  addPasskey(passkey: Omit<PasskeyRecord, 'createdAt' | 'lastUsedAt'>): Promise<void>;
  findPasskey(id: string): Promise<PasskeyRecord | undefined>;
  /** Oldest first. */
  listPasskeys(accountId: string): Promise<PasskeyRecord[]>;
  renamePasskey(accountId: string, id: string, name: string): Promise<boolean>;
  removePasskey(accountId: string, id: string): Promise<boolean>;
  /**
   * Records a sign-in with the passkey, atomically: only if its signature counter moved forward
   * (or the authenticator keeps none: both 0). False otherwise, e.g. a cloned authenticator.
   */
  usePasskey(id: string, counter: number): Promise<boolean>;
  /** Sets (replaces) the account's TOTP secret. */
  setTotp(accountId: string, material: Record<string, unknown>): Promise<void>;
  getTotp(accountId: string): Promise<TotpRecord | undefined>;
  removeTotp(accountId: string): Promise<boolean>;
  /** Replaces the account's recovery codes (their hashes). */
  setRecoveryCodes(accountId: string, hashes: string[]): Promise<void>;
  /** Uses one recovery code, by its hash: true for exactly one of any number of parallel callers. */
  useRecoveryCode(accountId: string, hash: string): Promise<boolean>;
  countRecoveryCodes(accountId: string): Promise<number>;
  /** Removes every passkey, TOTP secret and recovery code of the account. */
  removeAll(accountId: string): Promise<void>;
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
  /**
   * Replaces the material of one usable key (sealing a plaintext key in place), nothing else.
   * Resolves false when there is no such key (unknown, other kind, or expired).
   */
  setMaterial(kind: KeyKind, kid: string, material: Record<string, unknown>): Promise<boolean>;
}

/** A small record of named numbers under a key, with an expiry (epoch ms): a counter or a lock. */
export interface CounterEntry {
  state: Readonly<Record<string, number>>;
  expiresAt: number;
}

/**
 * Counters and locks shared by every node (login guard, rate limits). Keys are at most 1,024
 * characters; records past `expiresAt` are never returned.
 */
export interface CounterStore {
  /**
   * Atomic read-modify-write: passes the live record under `key` (undefined when missing or
   * expired) and the store's clock to `change`, and stores what it returns (undefined deletes).
   * Calls on one key, from any process or node, apply one after another. `change` must be
   * synchronous and free of side effects: an adapter may call it again after a conflicting write.
   * Resolves with what was stored.
   */
  update(key: string, change: (current: CounterEntry | undefined, now: number) => CounterEntry | undefined): Promise<CounterEntry | undefined>;
  get(key: string): Promise<CounterEntry | undefined>;
  delete(key: string): Promise<void>;
}

/** How idport talks to an upstream: OpenID Connect, or one of the presets' own protocols. */
export type UpstreamPreset = 'oidc' | 'google' | 'microsoft' | 'github' | 'apple' | 'kakao' | 'naver';

/** A provider users may sign in with instead of a password ("Continue with Acme SSO"). */
export interface UpstreamRecord {
  /** lowercase slug, in the URLs of the sign-in and of the callback registered at the upstream */
  id: string;
  name: string;
  preset: UpstreamPreset;
  /** the upstream's issuer (OIDC discovery), or the preset's base URL */
  issuer: string;
  clientId: string;
  /** the client secret (and a preset's other secrets), sealed under IDPORT_KEK when it is set */
  secrets: Record<string, unknown>;
  scope: string;
  buttonLabel: string | null;
  /** link to an existing account on the upstream's word (a verified email), without the user proving the account */
  linkByVerifiedEmail: boolean;
  /** create an account on the first sign-in of an unknown user */
  jit: boolean;
  /** our claim -> the upstream's claim, over the defaults */
  claimMap: Record<string, string>;
  /** preset settings that are not secret (an API base URL, a tenant) */
  settings: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface UpstreamStore {
  upsert(upstream: Omit<UpstreamRecord, 'createdAt' | 'updatedAt'>): Promise<void>;
  find(id: string): Promise<UpstreamRecord | undefined>;
  /** every upstream, by id */
  list(): Promise<UpstreamRecord[]>;
  /** Removes the upstream and every account's link to it. */
  remove(id: string): Promise<boolean>;
}

/** An account's identity at an upstream: who the upstream says the user is (its `sub`). */
export interface UpstreamLinkRecord {
  upstreamId: string;
  subject: string;
  accountId: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface UpstreamLinkStore {
  /**
   * Links an upstream subject to an account. One subject of an upstream has one account:
   * DuplicateError('subject') when it is linked already (to this or another account).
   */
  link(upstreamId: string, subject: string, accountId: string): Promise<void>;
  find(upstreamId: string, subject: string): Promise<UpstreamLinkRecord | undefined>;
  /** the account's links, oldest first */
  listByAccount(accountId: string): Promise<UpstreamLinkRecord[]>;
  /** Records a sign-in through the link. */
  touch(upstreamId: string, subject: string): Promise<void>;
  /** Removes one link of the account; false when the account has no such link. */
  unlink(accountId: string, upstreamId: string, subject: string): Promise<boolean>;
  /** Removes every link of the account; how many. */
  removeAccount(accountId: string): Promise<number>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'mongodb';
  model(name: string): OidcModelStore;
  readonly accounts: AccountStore;
  readonly clients: ClientStore;
  readonly keys: KeyStore;
  readonly apis: ApiStore;
  readonly consents: ConsentStore;
  readonly counters: CounterStore;
  readonly factors: FactorStore;
  readonly upstreams: UpstreamStore;
  readonly upstreamLinks: UpstreamLinkStore;
  readonly registrationTokens: RegistrationTokenStore;
  /** Deletes expired rows; returns how many. */
  sweep(): Promise<number>;
  /** Cheap liveness check of the backing database. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
