import { hasPassword } from './password.js';

/**
 * Whether the account can sign in without its passkeys: with a password, or through an upstream
 * provider it is linked to. A passkey may be removed only then, or while another passkey is left.
 */
export async function hasWayInBesidesPasskeys(account: { id: string; passwordHash: string }, linkCount: (accountId: string) => Promise<number>): Promise<boolean> {
  return hasPassword(account) || (await linkCount(account.id)) > 0;
}
