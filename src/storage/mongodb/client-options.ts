import type { MongoClientOptions } from 'mongodb';

export interface MongoSettings {
  maxPoolSize?: number | undefined;
  /** how long to look for a usable server before an operation (and start-up) fails */
  serverSelectionTimeoutMs?: number | undefined;
  connectTimeoutMs?: number | undefined;
}

/** The connection-string options (lower-cased names) each of our defaults stands for. */
const urlNames: Record<string, string[]> = {
  maxPoolSize: ['maxpoolsize'],
  serverSelectionTimeoutMS: ['serverselectiontimeoutms'],
  connectTimeoutMS: ['connecttimeoutms'],
  retryWrites: ['retrywrites'],
  writeConcern: ['w', 'journal', 'wtimeoutms'],
  appName: ['appname'],
};

/** The option names written in a connection string's query, lower-cased. */
function namedInUrl(url: string): Set<string> {
  const query = url.split('?')[1]?.split('#')[0] ?? '';
  return new Set([...new URLSearchParams(query).keys()].map((k) => k.toLowerCase()));
}

/**
 * The driver options we pass: our defaults (majority writes, retryable writes, bounded pool and
 * waits), except those the connection string sets itself — options passed to the driver would
 * otherwise override what the operator wrote in DATABASE_URL.
 */
export function clientOptions(url: string, { maxPoolSize = 20, serverSelectionTimeoutMs = 10_000, connectTimeoutMs = 10_000 }: MongoSettings = {}): MongoClientOptions {
  const ours: MongoClientOptions = {
    maxPoolSize,
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    connectTimeoutMS: connectTimeoutMs,
    retryWrites: true,
    writeConcern: { w: 'majority' },
    appName: 'idport',
  };
  const named = namedInUrl(url);
  return Object.fromEntries(Object.entries(ours).filter(([option]) => !urlNames[option]!.some((n) => named.has(n))));
}
