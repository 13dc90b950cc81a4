import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { adminPrefix } from './admin-api.js';

const fromAdminListener = new WeakSet<IncomingMessage>();

/** The request came in on the separate admin port (admin.port). */
export const viaAdminListener = (req: IncomingMessage): boolean => fromAdminListener.has(req);

/**
 * The separate admin port: it serves /admin/v1 (through the same app, so the same checks and
 * audit) and nothing else, so the admin API can stay on an internal interface while the issuer
 * is public.
 */
export function listenAdmin(port: number, host: string, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path !== adminPrefix && !path.startsWith(`${adminPrefix}/`)) {
      res.writeHead(404, { 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: `this port serves only ${adminPrefix}` }));
      return;
    }
    fromAdminListener.add(req);
    handle(req, res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
