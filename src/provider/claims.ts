/** Standard OIDC claims released per scope (OpenID Connect Core §5.4). */
export const claimsByScope = {
  openid: ['sub'],
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
    'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
} as const;

export const supportedScopes = ['openid', 'offline_access', ...Object.keys(claimsByScope).filter((s) => s !== 'openid')];

/** What the consent page says each scope gives access to. */
export const scopeDescriptions: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'See your name and basic profile',
  email: 'See your email address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Stay connected when you are not using it',
};
