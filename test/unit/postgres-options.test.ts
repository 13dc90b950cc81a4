import { describeHost, poolOptions } from '../../src/storage/postgres/pool-options.js';
import { isOutage } from '../../src/storage/postgres/outage.js';

describe('PostgreSQL pool options', () => {
  test('our defaults: a bounded pool, bounded connect and statement times, a client-side read timeout, keep-alive', () => {
    expect(poolOptions('postgres://idport:secret@db1:5432/idport')).toEqual({
      connectionString: 'postgres://idport:secret@db1:5432/idport',
      max: 10,
      connectionTimeoutMillis: 10_000,
      statement_timeout: 10_000,
      query_timeout: 20_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'idport',
    });
    expect(poolOptions('postgresql://db1/idport', { maxPoolSize: 4, connectTimeoutMs: 3000, statementTimeoutMs: 2000 })).toMatchObject({
      max: 4,
      connectionTimeoutMillis: 3000,
      statement_timeout: 2000,
      query_timeout: 5000,
    });
  });

  test("the URL wins: libpq's connect_timeout (seconds) replaces ours; statement_timeout, sslmode and the rest are read by pg from the URL itself", () => {
    const url = 'postgres://u:p@db1/idport?connect_timeout=3&statement_timeout=500&sslmode=verify-full&application_name=mine';
    expect(poolOptions(url, { connectTimeoutMs: 60_000 })).toMatchObject({ connectionString: url, connectionTimeoutMillis: 3000, query_timeout: 3500 });
  });

  test('the host named in messages: host:port, never credentials', () => {
    expect(describeHost('postgres://admin:hunter2@db.example.com:6432/idport')).toBe('db.example.com:6432');
    expect(describeHost('postgresql://db.example.com/idport?sslmode=require')).toBe('db.example.com:5432');
    expect(describeHost('postgres://admin:hunter2@[::1]:5433/idport')).toBe('[::1]:5433');
    expect(describeHost('postgres:///idport?host=/var/run/postgresql')).toBe('/var/run/postgresql');
  });

  test('outages are connection failures, server shutdowns, timeouts, a full disk or a read-only server; not bad requests', () => {
    for (const err of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      new Error('Cannot use a pool after calling end on the pool'),
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('could not extend file'), { code: '53100' }),
      Object.assign(new Error('cannot execute UPDATE in a read-only transaction'), { code: '25006' }),
    ]) expect([err.message, isOutage(err)]).toEqual([err.message, true]);
    for (const err of [
      Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
      Object.assign(new Error('syntax error'), { code: '42601' }),
      new TypeError('a counter key must be a string'),
    ]) expect([err.message, isOutage(err)]).toEqual([err.message, false]);
  });
});
