import { addClient, addUser, discover, loginAndRedeem } from '../helpers/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ metrics: { port: 0, host: '127.0.0.1', onPublicPort: true } });
  await addUser(server.store);
});
afterAll(() => server.stop());

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ').pop()) : undefined;
};

test('Prometheus metrics: requests by route and status, tokens by grant type, logins by outcome, store latency, process', async () => {
  const client = await addClient(server.store);
  const config = await discover(server.url, client.client_id, client.client_secret);
  await loginAndRedeem(config, server.url);

  const text = await scrape(`${server.url}/metrics`);
  expect(value(text, 'idport_http_requests_total{route="discovery",method="GET",status="200"}')).toBeGreaterThanOrEqual(1);
  expect(value(text, 'idport_http_requests_total{route="token",method="POST",status="200"}')).toBe(1);
  expect(value(text, 'idport_tokens_issued_total{grant_type="authorization_code"}')).toBe(1);
  expect(value(text, 'idport_logins_total{outcome="success"}')).toBe(1);
  expect(text).toMatch(/idport_http_request_duration_seconds_bucket\{le="0\.005",route="token",method="POST",status="200"\} \d+/);
  expect(text).toMatch(/idport_store_operation_duration_seconds_count\{model="AuthorizationCode",op="consume"\} 1/);
  expect(text).toMatch(/^idport_nodejs_eventloop_lag_seconds /m);
  expect(text).toMatch(/^idport_process_resident_memory_bytes /m);
  // routes are a fixed set: ids in paths never become labels
  expect(text).not.toMatch(/route="\/interaction/);
});

test('userinfo asks the store once: its token, with the grant and session it is bound to (no store operation of its own for either)', async () => {
  const client = await addClient(server.store);
  const config = await discover(server.url, client.client_id, client.client_secret);
  const { tokens } = await loginAndRedeem(config, server.url);
  const counts = async () => {
    const text = await scrape(`${server.url}/metrics`);
    const count = (model: string, op: string) => value(text, `idport_store_operation_duration_seconds_count{model="${model}",op="${op}"}`) ?? 0;
    return { token: count('AccessToken', 'find'), grant: count('Grant', 'find'), session: count('Session', 'findByUid') };
  };
  const before = await counts();
  for (let i = 0; i < 3; i += 1) {
    const res = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(200);
  }
  expect(await counts()).toEqual({ token: before.token + 3, grant: before.grant, session: before.session });
});

test('a separate metrics port serves only /metrics', async () => {
  const { port } = server.metricsAddress!;
  const text = await scrape(`http://127.0.0.1:${port}/metrics`);
  expect(text).toContain('idport_http_requests_total');
  expect((await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).status).toBe(404);
});
