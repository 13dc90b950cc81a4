import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; we never download a browser (`npx playwright install` does not work here). */
export const chromiumPath = '/usr/bin/chromium';

/** Headless Chromium from the system package. Fails loudly (never skips) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is not installed at ${chromiumPath}; the browser tests need it. ` +
        'Install it with `apt-get install -y chromium` (do not run `npx playwright install`).',
    );
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export interface RelyingPartySite {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  callback: string;
  loggedOut: string;
  /** every request the site received, in order */
  hits: URL[];
  close(): Promise<void>;
}

/**
 * A stand-in for the client's web site: a real HTTP server on 127.0.0.1 and a free port
 * (chosen by the OS, so never one of Chromium's blocked ports) that answers 200 "ok" to anything.
 */
export async function startRelyingPartySite(): Promise<RelyingPartySite> {
  const hits: URL[] = [];
  let origin = 'http://127.0.0.1';
  const server: Server = createServer((req: IncomingMessage, res) => {
    hits.push(new URL(req.url ?? '/', origin));
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('ok');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    callback: `${origin}/callback`,
    loggedOut: `${origin}/logged-out`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
