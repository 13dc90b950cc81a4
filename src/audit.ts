import type { Logger } from 'pino';

/** What an audit event may carry: who, to which client, from where, and how it ended. Never secrets. */
export interface AuditFields {
  actor?: string | undefined;
  client_id?: string | undefined;
  ip?: string | undefined;
  outcome: 'success' | 'failure' | 'denied' | 'locked' | 'busy';
  [detail: string]: unknown;
}

export type Audit = (event: string, fields: AuditFields) => void;

/** Structured audit events: one JSON line each, marked `audit: <event>`, on the main log. */
export function createAudit(logger: Logger): Audit {
  const log = logger.child({ kind: 'audit' });
  return (event, fields) => log.info({ audit: event, ...fields }, `audit ${event}`);
}
