/**
 * oidcc-backchannel-rp-initiated-logout-certification-test-plan: one test per module, named as in
 * the OpenID Foundation's conformance suite. The suite's RP is registered with a
 * backchannel_logout_uri (here a real HTTP receiver: test/helpers/logout-receiver.ts), logs in,
 * sends the browser to the end_session_endpoint, and checks the logout token the OP POSTs
 * (logout-token-checks.ts) besides the usual redirect back with state. See docs/conformance.md.
 */
import { expectNoFindings } from './checks.js';
import { logoutRequestFindings } from './logout-token-checks.js';
import {
  POST_LOGOUT_REDIRECT_URI,
  authRequest,
  drive,
  expectAuthorizationError,
  login,
  moduleHooks,
  registerClient,
  startOp,
  UserAgent,
  type Client,
  type Op,
} from './helpers.js';
import { startLogoutReceiver, type LogoutReceiver } from '../helpers/logout-receiver.js';
import { endSessionState } from './suite-values.js';

let op: Op;
let receiver: LogoutReceiver;
let client: Client;
beforeAll(async () => {
  op = await startOp();
  receiver = await startLogoutReceiver();
  client = await registerClient(op, { backchannel_logout_uri: receiver.uri });
});
afterAll(async () => {
  await op?.stop();
  await receiver?.close();
});

/** The confirmation page's form, answered "Yes, sign me out"; where the browser ends up. */
async function endSessionAndConfirm(ua: UserAgent, params: Record<string, string>) {
  const url = new URL(op.meta.end_session_endpoint!);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await ua.request(url);
  const html = await res.text();
  expect(res.status).toBe(200);
  const form = /<form id="op\.logoutForm" method="post" action="([^"]+)"><input type="hidden" name="xsrf" value="([^"]+)"/.exec(html)!;
  const action = form[1]!.replace(/&amp;/g, '&');
  return ua.follow(action, op.issuer, await ua.postForm(action, { xsrf: form[2]!, logout: 'yes' }));
}

describe('oidcc-backchannel-rp-initiated-logout-certification-test-plan', () => {
  const { flowless } = moduleHooks(() => op);

  test('oidcc-backchannel-logout-discovery-endpoint-verification', () => {
    expect(op.meta.backchannel_logout_supported).toBe(true);
    expect(op.meta.backchannel_logout_session_supported).toBe(true);
    expect(op.meta.end_session_endpoint).toBe(`${op.issuer}/session/end`);
    flowless('discovery only');
  });

  test('oidcc-backchannel-rp-initiated-logout', async () => {
    const ua = new UserAgent();
    const { tokens, claims: idToken } = await login(op, {}, { ua, client });
    expect(typeof idToken.sid).toBe('string');
    const state = endSessionState();
    const step = await endSessionAndConfirm(ua, { id_token_hint: tokens.id_token, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state });
    expect(step.left!.origin + step.left!.pathname).toBe(POST_LOGOUT_REDIRECT_URI);
    expect([...step.left!.searchParams]).toEqual([['state', state]]);

    const [delivery] = await receiver.waitFor(1);
    const { findings, claims } = await logoutRequestFindings(delivery!, { issuer: op.issuer, clientId: client.metadata.client_id, idToken, jwks: op.jwks! });
    expectNoFindings(findings);
    expect(claims).toMatchObject({ sub: idToken.sub, sid: idToken.sid });

    // The suite then checks the session is gone: prompt=none needs the user again.
    const request = await authRequest(client.metadata, { prompt: 'none' });
    const flow = await drive(op, request, { ua });
    expect(expectAuthorizationError(op, flow.callback, request, ['login_required', 'interaction_required']).error).toBe('login_required');
    expect(receiver.deliveries).toHaveLength(1);
  });
});
