/**
 * A client that registers itself cannot make idport POST into the network it runs in through its
 * backchannel_logout_uri (RFC 7591 + Back-Channel Logout): with an https issuer, a logout token for
 * such a client is never sent to a loopback, private or link-local address, whether the URI names
 * the address itself or a host name that resolves to one. The delivery fails at once (audited),
 * and the address sees no connection. The same URI on a client the operator added is tried:
 * operators may run their apps on a private network, and that is what makes the refusal the
 * guard's and not the network's.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import pino from 'pino';

import { storeTargets } from '../../src/logout/logout-targets.js';
import { addClient } from '../helpers/flow.js';
import { waitFor } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const lines: Record<string, unknown>[] = [];
/** the would-be internal service: a TCP listener on 127.0.0.1 that counts who connects */
let internal: Server;
let connections = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  internal = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  server = await startTestServer(
    {
      issuer: 'https://idp.example.test',
      registration: { mode: 'open', requestsPerIpPerMinute: 10_000 },
      backchannelLogout: { attemptTimeoutMs: 500, firstRetryMs: 50, retryForSeconds: 1 },
    },
    undefined,
    pino({ level: 'info' }, sink),
  );
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => internal?.close(resolve));
  await server?.stop();
});

const internalPort = () => (internal.address() as AddressInfo).port;
const listener = () => `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

async function registerItself(backchannelLogoutUri: string): Promise<string> {
  const res = await fetch(`${listener()}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Registered', redirect_uris: ['https://app.example.com/callback'], backchannel_logout_uri: backchannelLogoutUri }),
  });
  const body = (await res.json()) as { client_id?: string; error_description?: string };
  expect({ status: res.status, error: body.error_description }).toEqual({ status: 201, error: undefined });
  return body.client_id!;
}

/** The client's logout token is queued (as oidc-provider's end_session does); its final audit event. */
async function logoutOutcome(clientId: string): Promise<Record<string, unknown>> {
  server.idport.backchannelLogout.notify({ clientId, sub: 'account-1', sid: 'sid-1', reason: 'end_session' });
  return waitFor(`the back-channel outcome for ${clientId}`, 10_000, () => lines.find((l) => l.audit === 'backchannel_logout' && l.client_id === clientId));
}

describe('a self-registered client (https issuer): nothing is sent to a special-use address', () => {
  test.each([
    ['the loopback address itself', () => `https://127.0.0.1:${internalPort()}/logout`],
    ['a name that resolves to loopback', () => `https://localhost:${internalPort()}/logout`],
    ['a private address (never connected to)', () => 'https://10.255.255.1/logout'],
    ['the cloud metadata address', () => 'https://169.254.169.254/latest/meta-data'],
    ['an IPv4-mapped IPv6 loopback', () => `https://[::ffff:127.0.0.1]:${internalPort()}/logout`],
  ])('%s: refused at once, audited, no connection', async (_name, uri) => {
    const before = connections;
    const clientId = await registerItself(uri());
    const outcome = await logoutOutcome(clientId);
    expect(outcome).toMatchObject({ outcome: 'failure', delivery: 'failed', attempts: 1 });
    expect(String(outcome.detail)).toMatch(/special-use address/);
    expect(connections - before).toBe(0);
  });
});

test('the same URI on a client the operator added is tried (a private network is the operator\'s to use)', async () => {
  const before = connections;
  const { client_id: clientId } = await addClient(server.store, { redirect_uris: ['https://app.example.com/callback'], backchannel_logout_uri: `https://127.0.0.1:${internalPort()}/logout` });
  await logoutOutcome(clientId);
  expect(connections - before).toBeGreaterThan(0);
});

test('the command line (`idport users …` ends sessions too) guards exactly the clients the server guards', async () => {
  const uri = `https://127.0.0.1:${internalPort()}/logout`;
  const registered = await registerItself(uri);
  const { client_id: added } = await addClient(server.store, { redirect_uris: ['https://app.example.com/callback'], backchannel_logout_uri: uri });
  const keys = () => Promise.reject(new Error('not needed to find a target'));
  const https = storeTargets(server.store, 'https://idp.example.test', keys);
  expect([(await https(registered))?.guard, (await https(added))?.guard]).toEqual([true, false]);
  // development (plain-http issuer): nothing is guarded, as for jwks_uri
  expect((await storeTargets(server.store, 'http://127.0.0.1:3000', keys)(registered))?.guard).toBe(false);
});
