/** Case-insensitive, Unicode-normalised form of a username or email, used for uniqueness and lookup. */
export function normalizeLogin(value: string): string {
  return value.normalize('NFKC').trim().toLowerCase();
}
