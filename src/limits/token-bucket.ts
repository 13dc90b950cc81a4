/**
 * A per-process budget: up to `perSecond` takes a second, bursts up to `perSecond` at once.
 * For work this process does itself (hashing), so the count need not be shared with other nodes.
 */
export function createTokenBucket(perSecond: number, now: () => number = () => performance.now()) {
  let tokens = perSecond;
  let last = now();
  return {
    /** Takes one token if there is one. */
    take(): boolean {
      const at = now();
      tokens = Math.min(perSecond, tokens + ((at - last) / 1000) * perSecond);
      last = at;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
