import type { CreateIndexesOptions, Db, IndexSpecification } from 'mongodb';

export interface IndexDef {
  collection: string;
  key: IndexSpecification;
  options: CreateIndexesOptions;
}

/** oidc-provider models with a collection each, and which of them carry a grantId. */
export const oidcModels = [
  'Session', 'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'ClientCredentials',
  'Interaction', 'ReplayDetection', 'PushedAuthorizationRequest', 'Grant', 'BackchannelAuthenticationRequest',
  'RegistrationAccessToken', 'InitialAccessToken',
  // ours: links in emails (accounts/account-links.ts)
  'AccountLink',
] as const;
/** Models whose records are found by account (findByAccount). */
export const accountBoundModels = ['Session', 'Grant'];
// Grant: a grant derived from another names it as its grantId (token exchange, provider/token-exchange.ts)
export const grantBoundModels = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'Grant'];

/** `AccessToken` → `oidc_access_token` */
export const collectionFor = (model: string) => `oidc_${model.replace(/(?<!^)([A-Z])/g, '_$1').toLowerCase()}`;

const partialString = (field: string) => ({ partialFilterExpression: { [field]: { $type: 'string' } } });

/**
 * Every index the access paths need, reviewed against the MongoDB manual: a TTL index
 * (expireAfterSeconds 0 on a Date field deletes at that time, checked every ~60 s by the TTL
 * monitor) on each expiring collection; lookups by uid, userCode and grantId; accounts unique on
 * every login name (username and email, normalised) through one multikey unique index.
 */
export function indexDefs(): IndexDef[] {
  const defs: IndexDef[] = [];
  for (const model of oidcModels) {
    const collection = collectionFor(model);
    defs.push({ collection, key: { expiresAt: 1 }, options: { name: 'ttl', expireAfterSeconds: 0 } });
    if (accountBoundModels.includes(model)) defs.push({ collection, key: { accountId: 1 }, options: { name: 'accountId', ...partialString('accountId') } });
    if (grantBoundModels.includes(model)) defs.push({ collection, key: { grantId: 1 }, options: { name: 'grantId', ...partialString('grantId') } });
  }
  defs.push(
    { collection: collectionFor('Session'), key: { uid: 1 }, options: { name: 'uid', unique: true, ...partialString('uid') } },
    { collection: collectionFor('DeviceCode'), key: { userCode: 1 }, options: { name: 'userCode', unique: true, ...partialString('userCode') } },
    { collection: 'accounts', key: { loginKeys: 1 }, options: { name: 'loginKeys', unique: true } },
    // list and pages of accounts in (usernameNorm, _id) order (queries.ts accountPageFilter)
    { collection: 'accounts', key: { usernameNorm: 1, _id: 1 }, options: { name: 'usernameOrder' } },
    { collection: 'keys', key: { kind: 1, slot: 1 }, options: { name: 'oneActivePerSlot', unique: true, partialFilterExpression: { active: true } } },
    { collection: 'keys', key: { kind: 1, createdAt: -1 }, options: { name: 'kindCreated' } },
    { collection: 'consents', key: { accountId: 1, clientId: 1 }, options: { name: 'accountClient', unique: true } },
    { collection: 'counters', key: { expiresAt: 1 }, options: { name: 'ttl', expireAfterSeconds: 0 } },
    { collection: 'passkeys', key: { accountId: 1, createdAt: 1 }, options: { name: 'accountCreated' } },
    { collection: 'recovery_codes', key: { accountId: 1, hash: 1 }, options: { name: 'accountHash', unique: true } },
    { collection: 'upstream_links', key: { accountId: 1, createdAt: 1 }, options: { name: 'accountCreated' } },
    { collection: 'upstream_links', key: { '_id.upstreamId': 1 }, options: { name: 'upstream' } },
    { collection: 'registration_tokens', key: { hash: 1 }, options: { name: 'hash', unique: true } },
    { collection: 'registration_tokens', key: { expiresAt: 1 }, options: { name: 'ttl', expireAfterSeconds: 0 } },
  );
  return defs;
}

/** Creates the indexes; createIndex is idempotent for identical specs, so every start may run it. */
export async function ensureIndexes(db: Db): Promise<number> {
  const defs = indexDefs();
  for (const def of defs) await db.collection(def.collection).createIndex(def.key, def.options);
  return defs.length;
}

/**
 * Sessions and grants stored before they were found by account get their top-level `accountId`
 * (idempotent: once done, it matches nothing).
 */
export async function backfillAccountIds(db: Db): Promise<void> {
  for (const model of accountBoundModels) {
    await db
      .collection(collectionFor(model))
      .updateMany({ accountId: { $exists: false }, 'payload.accountId': { $type: 'string' } }, [{ $set: { accountId: '$payload.accountId' } }]);
  }
}
