import type { Logger } from 'pino';

import type { Audit } from '../audit.js';
import type { Config } from '../config/schema.js';
import { createDeliveryQueue, type AttemptResult, type Outcome } from './delivery-queue.js';
import type { LogoutSubject } from './logout-token.js';
import type { FindTarget } from './logout-targets.js';
import { postLogoutToken, type PostAnswer } from './post-logout-token.js';
import { clientsOfSession, type EndedSession } from './session-clients.js';
import { SpecialUseAddressError } from './special-use-addresses.js';

/** Why a session ended, as the audit events say it. */
export type LogoutReason = 'end_session' | 'session_ended' | 'credential_change';

export interface LogoutJob extends LogoutSubject {
  clientId: string;
  reason: LogoutReason;
}

export interface BackchannelLogoutDeps {
  /** each client's URI and signer, looked up again for every attempt (logout-targets.ts) */
  target: FindTarget;
  timing: Config['backchannelLogout'];
  audit: Audit;
  logger: Logger;
  /** counts each job's final outcome */
  onOutcome?: (outcome: Outcome) => void;
}

const retryable = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500;

/** Retry-After in seconds (an HTTP date is not worth the parsing here). */
const retryAfterMs = (value: string | undefined) => (value && /^\d{1,6}$/.test(value) ? Number(value) * 1000 : undefined);

/**
 * Back-Channel Logout 1.0: a signed Logout Token POSTed (form body `logout_token`) to the
 * backchannel_logout_uri of each client a session had signed in to, whenever that session ends:
 * RP-initiated logout (oidc-provider's end_session), "sign out" of other sessions on /account, and
 * a credential change or account removal. Deliveries go through an in-memory queue
 * (delivery-queue.ts), so no sign-out waits for a client. 2xx is delivered; 408, 425, 429, 5xx,
 * timeouts and connection errors are retried; any other answer (400: the client refused the token)
 * fails at once, and so does a URI the target guards that reaches a special-use address (a client
 * that registered itself naming an address inside the network idport runs in: nothing is sent).
 * Each final outcome is audited (client id, subject, attempts; never the token).
 */
export function createBackchannelLogout({ target, timing, audit, logger, onOutcome }: BackchannelLogoutDeps) {
  const counts: Record<Outcome, number> = { delivered: 0, failed: 0, gave_up: 0 };
  const lookups = new Set<Promise<void>>();

  async function attempt(job: LogoutJob, signal: AbortSignal): Promise<AttemptResult> {
    const found = await target(job.clientId);
    if (!found) return { kind: 'refused', detail: 'client removed or has no backchannel_logout_uri' };
    let token: string;
    try {
      token = await found.sign(job);
    } catch (err) {
      return { kind: 'refused', detail: `cannot sign: ${(err as Error).message}` };
    }
    let res: PostAnswer;
    try {
      res = await postLogoutToken(found.uri, token, { signal, guard: found.guard });
    } catch (err) {
      // A URI the client chose that reaches a special-use address: never sent, and never will be.
      if (err instanceof SpecialUseAddressError) return { kind: 'refused', detail: err.message };
      throw err;
    }
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
    if (retryable(res.status)) return { kind: 'retry', detail: `HTTP ${res.status}`, retryAfterMs: retryAfterMs(res.retryAfter) };
    return { kind: 'refused', detail: `HTTP ${res.status}` };
  }

  const queue = createDeliveryQueue<LogoutJob>({
    timing,
    attempt,
    onOutcome(job, outcome, { attempts, detail }) {
      counts[outcome] += 1;
      onOutcome?.(outcome);
      audit('backchannel_logout', {
        outcome: outcome === 'delivered' ? 'success' : 'failure',
        delivery: outcome,
        client_id: job.clientId,
        actor: job.sub,
        reason: job.reason,
        attempts,
        detail,
      });
    },
  });

  /** Queues a logout token for each client of the ended sessions that has a backchannel_logout_uri. */
  async function queueForSessions(accountId: string, sessions: EndedSession[], reason: LogoutReason) {
    for (const { clientId, sid } of sessions.flatMap(clientsOfSession)) {
      if (await target(clientId)) queue.add({ clientId, sub: accountId, sid, reason });
    }
  }

  return {
    /** One client's logout token (oidc-provider's end_session names the client, subject and sid). */
    notify: (job: LogoutJob) => queue.add(job),

    /**
     * Sessions our own code ended (payloads as stored): returns at once, the lookups of their
     * clients and the deliveries run in the background.
     */
    sessionsEnded(accountId: string, sessions: EndedSession[], reason: LogoutReason): void {
      const lookup = queueForSessions(accountId, sessions, reason)
        .catch((err: unknown) => logger.error({ err }, 'back-channel logout: could not queue logout tokens'))
        .finally(() => lookups.delete(lookup));
      lookups.add(lookup);
    },

    get pending() {
      return queue.size;
    },

    /** Final outcomes so far, by outcome. */
    outcomes: (): Readonly<Record<Outcome, number>> => ({ ...counts }),

    /**
     * For a short-lived process (the CLI): waits until every token is delivered or done with, at
     * most `ms`, then closes (what still waits is given up); the outcomes so far.
     */
    async finish(ms: number): Promise<Record<Outcome, number>> {
      await Promise.all([...lookups]);
      await queue.idle(ms);
      await queue.close();
      return { ...counts };
    },

    close: async () => {
      await Promise.all([...lookups]);
      await queue.close();
    },
  };
}

export type BackchannelLogout = ReturnType<typeof createBackchannelLogout>;
