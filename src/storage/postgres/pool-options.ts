import type { PoolConfig } from 'pg';

export interface PostgresSettings {
  maxPoolSize?: number | undefined;
  /** how long to wait for a connection (start-up fails after this) */
  connectTimeoutMs?: number | undefined;
  /** how long one statement may run before the server cancels it */
  statementTimeoutMs?: number | undefined;
}

/** The names written in a connection string's query, lower-cased. */
function namedInUrl(url: string): Map<string, string> {
  const query = url.split('?')[1]?.split('#')[0] ?? '';
  return new Map([...new URLSearchParams(query).entries()].map(([k, v]) => [k.toLowerCase(), v]));
}

/** host:port of a connection string, without credentials, for messages. */
export function describeHost(url: string): string {
  const match = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?#]*)/.exec(url);
  const host = match?.[1];
  if (host) return host.includes(':') && !host.endsWith(']') ? host : `${host}:5432`;
  const socketHost = namedInUrl(url).get('host');
  return socketHost ?? 'PostgreSQL';
}

/**
 * The pool options we pass: a bounded pool, bounded waits (connect, statement, and a client-side
 * read timeout in case the server stops answering), TCP keep-alive. pg reads the connection
 * string itself (host, credentials, `sslmode`/`ssl*`, `application_name`, `statement_timeout`,
 * `options`), and what it reads there wins over the same options passed beside it; libpq's
 * `connect_timeout` (seconds) in the URL replaces our connect timeout.
 */
export function poolOptions(url: string, { maxPoolSize = 10, connectTimeoutMs = 10_000, statementTimeoutMs = 10_000 }: PostgresSettings = {}): PoolConfig {
  const named = namedInUrl(url);
  const urlConnect = Number(named.get('connect_timeout'));
  const connect = Number.isFinite(urlConnect) && urlConnect > 0 ? urlConnect * 1000 : connectTimeoutMs;
  const urlStatement = Number(named.get('statement_timeout'));
  const statement = Number.isFinite(urlStatement) && urlStatement >= 0 && named.has('statement_timeout') ? urlStatement : statementTimeoutMs;
  return {
    connectionString: url,
    max: maxPoolSize,
    connectionTimeoutMillis: connect,
    statement_timeout: statementTimeoutMs,
    // the server cancels a slow statement; this covers a server (or network) that stops answering
    query_timeout: statement > 0 ? statement + connect : undefined,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'idport',
  };
}
