/** The longest id, uid, user code or counter key a store looks up; longer ones are never found. */
export const maxKeyLength = 1024;

/** A value a store may look up: a non-empty string of at most `maxKeyLength` characters. */
export const isStoreKey = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= maxKeyLength;
