/**
 * `load` run by the first call and its promise shared by every later one: for modules a node may
 * never need (the admin API, the upstream protocols). A failed load is tried again by the next call.
 */
export function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
}
