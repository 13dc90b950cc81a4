import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the receiver does with its n-th request (1-based): answer with a status, or never answer. */
export type ReceiverBehaviour = (n: number) => number | 'hang';

export interface LogoutDelivery {
  method: string;
  contentType: string;
  /** the form body's logout_token */
  token: string | null;
  /** every form field (the spec sends only logout_token) */
  fields: string[];
  at: number;
}

export interface LogoutReceiver {
  /** e.g. http://127.0.0.1:41234/backchannel-logout */
  uri: string;
  deliveries: LogoutDelivery[];
  /** requests received and not answered (a 'hang' receiver holds them) */
  open(): number;
  /** resolves once `count` requests arrived, or fails after `ms` */
  waitFor(count: number, ms?: number): Promise<LogoutDelivery[]>;
  close(): Promise<void>;
}

/**
 * A client's back-channel logout endpoint: a real HTTP server on 127.0.0.1 and a free port that
 * records each request (method, content type, form body) and answers as `behaviour` says
 * (default 200).
 */
export async function startLogoutReceiver(behaviour: ReceiverBehaviour = () => 200): Promise<LogoutReceiver> {
  const deliveries: LogoutDelivery[] = [];
  const held = new Set<ServerResponse>();
  const waiters: (() => void)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      deliveries.push({
        method: req.method ?? '',
        contentType: req.headers['content-type'] ?? '',
        token: form.get('logout_token'),
        fields: [...form.keys()],
        at: Date.now(),
      });
      for (const w of waiters.splice(0)) w();
      const answer = behaviour(deliveries.length);
      if (answer === 'hang') {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      res.writeHead(answer, { 'cache-control': 'no-store', 'content-type': 'application/json' });
      res.end(answer === 400 ? '{"error":"invalid_request"}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel-logout`;
  return {
    uri,
    deliveries,
    open: () => held.size,
    async waitFor(count, ms = 5000) {
      const deadline = Date.now() + ms;
      while (deliveries.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} logout deliveries at ${uri}, got ${deliveries.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return deliveries;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
