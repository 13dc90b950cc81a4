/**
 * A tiny load balancer for multi-node tests: plain node:http on 127.0.0.1, each request sent to
 * the next node in turn (strict round-robin, no stickiness), the Host header kept as the client
 * sent it (so the nodes answer as the issuer the browser sees), bodies streamed both ways.
 * It records which node served which request, so a test can prove the nodes took turns.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyTarget {
  name: string;
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
}

export interface ProxiedRequest {
  node: string;
  method: string;
  /** path and query as the client sent them */
  url: string;
  status: number;
}

export interface RoundRobinProxy {
  /** http://127.0.0.1:<port> */
  origin: string;
  /** the nodes, in the order they take turns; requests before this is called get 502 */
  setTargets(targets: ProxyTarget[]): void;
  /** every request answered, in the order the answers started */
  log: ProxiedRequest[];
  close(): Promise<void>;
}

/** Headers that describe one hop, not the message: never forwarded (RFC 9110 §7.6.1). */
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

function endToEnd(raw: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!hopByHop.has(raw[i]!.toLowerCase())) kept.push(raw[i]!, raw[i + 1]!);
  return kept;
}

export async function startRoundRobinProxy(): Promise<RoundRobinProxy> {
  let targets: ProxyTarget[] = [];
  let next = 0;
  const log: ProxiedRequest[] = [];

  function forward(req: IncomingMessage, res: ServerResponse) {
    if (targets.length === 0) {
      res.writeHead(502).end('no nodes yet');
      return;
    }
    const target = targets[next % targets.length]!;
    next += 1;
    const { hostname, port } = new URL(target.origin);
    const upstream = request({ hostname, port, method: req.method, path: req.url, headers: endToEnd(req.rawHeaders) }, (answer) => {
      log.push({ node: target.name, method: req.method ?? 'GET', url: req.url ?? '/', status: answer.statusCode ?? 0 });
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.rawHeaders));
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(`node ${target.name}: ${err.message}`);
    });
    req.pipe(upstream);
  }

  const server = createServer(forward);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setTargets(list) {
      targets = [...list];
    },
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
