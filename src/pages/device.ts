/**
 * The code page's message for the error oidc-provider shows it again with (its re-render errors):
 * a wrong, unknown or expired code, a cancelled request, or anything else.
 */
export function deviceCodeError(err: unknown): string | undefined {
  if (!err) return undefined;
  const { name, userCode } = err as { name?: string; userCode?: string };
  if (userCode || name === 'NoCodeError') return 'device.invalidCode';
  return name === 'AbortedError' ? 'device.cancelled' : 'device.failed';
}
