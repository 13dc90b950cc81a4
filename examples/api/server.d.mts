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
  log?: (line: string) => void;
}): Promise<RunningApi>;
