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
