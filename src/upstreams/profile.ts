/** The claims idport takes from an upstream, each read from the claim of the same name unless mapped. */
export const mappableClaims = ['sub', 'email', 'email_verified', 'name', 'preferred_username', 'given_name', 'family_name', 'picture', 'locale'];

/** Who the upstream says the user is, in our terms. */
export interface UpstreamProfile {
  /** the upstream's stable id for the user (never reassigned: OIDC `sub`, GitHub's numeric id) */
  subject: string;
  email?: string | undefined;
  /** true only when the upstream said so with a boolean true */
  emailVerified: boolean;
  name?: string | undefined;
  preferredUsername?: string | undefined;
  /** standard claims an account may carry (picture, locale, given_name, family_name) */
  claims: Record<string, string>;
}

const text = (value: unknown, max = 512): string | undefined =>
  typeof value === 'string' && value.trim() && value.length <= max ? value.trim() : typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : undefined;

/**
 * The profile from an upstream's claims (ID token and userinfo, or a preset's API), through the
 * operator's claim map. Undefined when there is no usable subject.
 */
export function mapProfile(raw: Record<string, unknown>, claimMap: Record<string, string>): UpstreamProfile | undefined {
  const read = (claim: string) => raw[claimMap[claim] ?? claim];
  const subject = text(read('sub'), 255);
  if (!subject) return undefined;
  const email = text(read('email'), 320);
  const claims: Record<string, string> = {};
  for (const claim of ['given_name', 'family_name', 'picture', 'locale']) {
    const value = text(read(claim), claim === 'picture' ? 2048 : 256);
    if (value && (claim !== 'picture' || /^https:\/\//.test(value))) claims[claim] = value;
  }
  return {
    subject,
    email: email && /^[^\s@]{1,64}@[^\s@]{1,255}$/.test(email) ? email : undefined,
    emailVerified: read('email_verified') === true,
    name: text(read('name'), 256),
    preferredUsername: text(read('preferred_username'), 64),
    claims,
  };
}
