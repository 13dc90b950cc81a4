/**
 * A browser without the browser (after test/helpers/user-agent.ts and flow.ts): real HTTP with
 * a cookie jar and manual redirects, driving the authorization code flow with PKCE through the
 * server's login and consent pages, then redeeming the code at the token endpoint.
 *
 * Plain node:http over keep-alive connections, not fetch: the driver shares the machine's cores
 * with the server it measures, and fetch spent about three times the CPU per request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { URLSearchParams } from 'node:url';

import { basicAuth, redirectUri, user as defaultUser, webClient } from './fixtures.mjs';

const agent = new Agent({ keepAlive: true });
const timeoutMs = 15_000;

/** One HTTP exchange, the whole body read; the answer has the parts of a fetch Response we use. */
function send(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          location: res.headers.location,
          setCookie: res.headers['set-cookie'] ?? [],
          text: () => buffer.toString('utf8'),
          json: () => JSON.parse(buffer.toString('utf8')),
        });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

export class UserAgent {
  cookies = new Map();

  remember(res) {
    for (const line of res.setCookie) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url, { method, headers = {}, body } = {}) {
    const all = { accept: 'text/html', ...headers };
    if (this.cookies.size) all.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) all['content-length'] = Buffer.byteLength(body);
    const res = await send(url, { method, headers: all, body });
    this.remember(res);
    return res;
  }

  postForm(url, form) {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Follows redirects until one leaves the issuer (`left`) or a page is served (`page`). */
  async follow(url, issuer, first) {
    let current = new URL(url);
    let res = first ?? (await this.request(current));
    for (let hops = 0; hops < 10; hops += 1) {
      const { location } = res;
      if (res.status < 300 || res.status >= 400 || !location) return { page: res, url: current };
      current = new URL(location, current);
      if (!current.href.startsWith(issuer)) return { url: current, left: current };
      res = await this.request(current);
    }
    throw new Error('too many redirects');
  }
}

const csrfFrom = (html) => {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no csrf field on the page: ${html.slice(0, 200)}`);
  return match[1];
};

/**
 * One whole sign-in: /auth → login page → POST login → consent page → POST consent → callback
 * → POST /token. Returns the token response; throws on anything unexpected.
 */
export async function codeFlow(issuer, { scope = 'openid profile email', prompt, user = defaultUser } = {}) {
  const ua = new UserAgent();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const auth = new URL('/auth', issuer);
  auth.search = new URLSearchParams({
    client_id: webClient.client_id,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...(prompt ? { prompt } : {}),
  }).toString();

  let step = await ua.follow(auth, issuer);
  for (let pages = 0; !step.left && pages < 4; pages += 1) {
    const html = step.page.text();
    if (step.page.status !== 200) throw new Error(`unexpected page ${step.page.status} at ${step.url.pathname}: ${html.slice(0, 300)}`);
    const csrf = csrfFrom(html);
    const action = step.url.pathname;
    const res = html.includes('name="password"')
      ? await ua.postForm(new URL(`${action}/login`, issuer), { csrf, login: user.username, password: user.password })
      : await ua.postForm(new URL(`${action}/consent`, issuer), { csrf });
    step = await ua.follow(step.url, issuer, res);
  }
  if (!step.left) throw new Error('the flow did not return to the client');
  const params = step.left.searchParams;
  if (params.get('error')) throw new Error(`authorization error: ${params.get('error')} ${params.get('error_description')}`);
  if (params.get('state') !== state) throw new Error('state mismatch');
  const code = params.get('code');
  if (!code) throw new Error('no code in the callback');

  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }).toString();
  const res = await send(new URL('/token', issuer), {
    method: 'POST',
    headers: {
      authorization: basicAuth(webClient),
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(body),
      accept: 'application/json',
    },
    body,
  });
  const tokens = res.json();
  if (res.status !== 200 || !tokens.access_token || !tokens.id_token) {
    throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(tokens).slice(0, 300)}`);
  }
  return tokens;
}
