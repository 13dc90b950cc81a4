// Types for server.mjs.
import type { Server } from 'node:http';

import type { VerifyAccessToken } from './verify.mjs';

export interface RunningApi {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export declare function start(options?: {
  issuer?: string;
  audience?: string;
  port?: number;
  host?: string;
  verify?: VerifyAccessToken;
  /** this API's public origin, for DPoP proofs (default: the request's) */
  origin?: string;
  log?: (line: string) => void;
}): Promise<RunningApi>;
