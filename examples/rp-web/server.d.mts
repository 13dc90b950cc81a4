// Types for server.mjs.
import type { Server } from 'node:http';

export interface RunningApp {
  /** this app's public URL, e.g. http://localhost:8080 */
  url: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** where idport POSTs logout tokens (register it with --backchannel-logout-uri) */
  backchannelLogoutUri: string;
  /** the logout tokens the app accepted, oldest first, and how many of its sessions each ended */
  backchannelLogouts: { sid?: string; sub?: string; jti: string; sessionsEnded: number }[];
  server: Server;
  close(): Promise<void>;
}

/** What the app keeps per browser session (server-side; the browser holds only a random id). */
export interface AppSession {
  csrf: string;
  expiresAt: number;
  pending?: { verifier: string; state: string; nonce: string };
  logoutState?: string;
  user?: {
    claims: Record<string, unknown> & { sub: string };
    idToken: string;
    accessToken: string;
    refreshToken?: string;
    scope?: string;
    expiresAt: number;
    userinfo?: Record<string, unknown>;
    userinfoError?: string;
  };
  [key: string]: unknown;
}

export declare function isLoopbackHttp(url: string | URL): boolean;

export declare function start(options: {
  issuer?: string;
  clientId: string;
  clientSecret: string;
  port?: number;
  host?: string;
  publicUrl?: string;
  apiUrl?: string;
  apiAudience?: string;
  scope?: string;
  sessions?: Map<string, AppSession>;
  appName?: string;
}): Promise<RunningApp>;
