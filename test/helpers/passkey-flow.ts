/**
 * Passkey sign-ins in headless Chromium: an idport on http://localhost:PORT (a passkey's RP ID is
 * a host name, never an IP address), a relying-party site, a first-party client (no consent page)
 * and browser tabs with their own virtual authenticator. ID tokens are redeemed with openid-client.
 */
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';

import type { Factors } from '../../src/factors/create-factors.js';
import type { AccountRecord } from '../../src/storage/types.js';
import { launchChromium, startRelyingPartySite, type RelyingPartySite } from './browser.js';
import { addVirtualAuthenticator, enrolPasskey, factorsOf } from './factors.js';
import { addClient, discover } from './flow.js';
import { startTestServer, type TestServer } from './server.js';

export interface Tab {
  context: BrowserContext;
  page: Page;
  /** console errors and warnings, script errors (CSP violations show up here) */
  problems: string[];
  /** each navigator.credentials.get() the pages called, by its mediation */
  mediations: string[];
  /** turns the authenticator's automatic "user touched it" on or off */
  presence(enabled: boolean): Promise<void>;
  /** enrols a passkey for `account` in this tab's authenticator; returns its id */
  enrol(account: AccountRecord, name?: string): Promise<string>;
  close(): Promise<void>;
}

export type AuthorizationRequest = Awaited<ReturnType<PasskeyEnv['authorizationRequest']>>;

export interface PasskeyEnv {
  browser: Browser;
  server: TestServer;
  site: RelyingPartySite;
  config: oidc.Configuration;
  factors: Factors;
  /** a fresh profile; `autofill: false` makes the browser report no conditional mediation */
  newTab(options?: { autofill?: boolean }): Promise<Tab>;
  authorizationRequest(extra?: Record<string, string>): Promise<{ url: URL; verifier: string; state: string; nonce: string }>;
  /** runs `action` and resolves with the client's callback URL the browser lands on */
  backAtClient(page: Page, action: () => Promise<unknown>): Promise<URL>;
  /** redeems the callback's code and returns the ID token's claims */
  idToken(callback: URL, request: AuthorizationRequest): Promise<oidc.IDToken>;
  stop(): Promise<void>;
}

export async function startPasskeyEnv(): Promise<PasskeyEnv> {
  const browser = await launchChromium();
  const server = await startTestServer({ host: 'localhost' });
  const site = await startRelyingPartySite();
  const client = await addClient(server.store, { redirect_uris: [site.callback], first_party: true });
  const config = await discover(server.url, client.client_id, client.client_secret);
  const factors = await factorsOf(server);

  async function newTab({ autofill = true } = {}): Promise<Tab> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const problems: string[] = [];
    page.on('console', (msg) => {
      if ((msg.type() === 'error' || msg.type() === 'warning') && !msg.location().url.endsWith('/favicon.ico')) problems.push(`${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    const mediations: string[] = [];
    await page.exposeFunction('reportMediation', (mediation: string) => mediations.push(mediation));
    // Runs in the page before its scripts (as source text: it may use nothing from here).
    await page.addInitScript((noAutofill: boolean) => {
      type Get = (o: { mediation?: string }) => Promise<unknown>;
      const scope = globalThis as unknown as {
        navigator: { credentials?: { get: Get } };
        PublicKeyCredential?: { isConditionalMediationAvailable?: () => Promise<boolean> };
        reportMediation(m: string): void;
      };
      const credentials = scope.navigator.credentials;
      if (!credentials || !scope.PublicKeyCredential) return;
      const get = credentials.get.bind(credentials);
      credentials.get = (options) => {
        scope.reportMediation(options.mediation ?? 'optional');
        return get(options);
      };
      if (noAutofill) scope.PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
    }, !autofill);
    const { cdp, authenticatorId } = await addVirtualAuthenticator(page);
    return {
      context,
      page,
      problems,
      mediations,
      presence: async (enabled) => {
        await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
      },
      enrol: (account, name) => enrolPasskey(page, server, factors, account, name),
      close: () => context.close(),
    };
  }

  async function authorizationRequest(extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: site.callback,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    return { url, verifier, state, nonce };
  }

  async function backAtClient(page: Page, action: () => Promise<unknown>): Promise<URL> {
    const landed = page.waitForURL((u) => u.href.startsWith(site.callback), { waitUntil: 'load' });
    await action();
    await landed;
    return new URL(page.url());
  }

  async function idToken(callback: URL, request: AuthorizationRequest) {
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
      idTokenExpected: true,
    });
    return tokens.claims()!;
  }

  return {
    browser,
    server,
    site,
    config,
    factors,
    newTab,
    authorizationRequest,
    backAtClient,
    idToken,
    async stop() {
      await browser.close();
      await site.close();
      await server.stop();
    },
  };
}

/** Fills the login form with a password and submits it. */
export async function submitPassword(page: Page, user: { username: string; password: string }): Promise<void> {
  await page.getByLabel('Username or email').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** The browser's WebAuthn globals, for functions run in the page (the type-check has no DOM lib). */
interface PageWebAuthn {
  PublicKeyCredential: { parseRequestOptionsFromJSON(json: unknown): unknown };
  navigator: { credentials: { get(o: { publicKey: unknown }): Promise<{ toJSON(): unknown } | null> } };
  fetch(url: string, init?: unknown): Promise<{ json(): Promise<unknown> }>;
}

/** GETs passkey options (JSON) from the page's own origin, with its cookies. */
export function fetchOptions(page: Page, url: string): Promise<Record<string, unknown>> {
  return page.evaluate(async (u) => {
    const res = await (globalThis as unknown as PageWebAuthn).fetch(u, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    return (await res.json()) as Record<string, unknown>;
  }, url);
}

/** Runs navigator.credentials.get() in the page with `options`; returns the answer's JSON. */
export function getAssertion(page: Page, options: Record<string, unknown>): Promise<Record<string, unknown>> {
  return page.evaluate(async (json) => {
    const scope = globalThis as unknown as PageWebAuthn;
    const credential = await scope.navigator.credentials.get({ publicKey: scope.PublicKeyCredential.parseRequestOptionsFromJSON(json) });
    return credential!.toJSON() as Record<string, unknown>;
  }, options);
}

/** POSTs a form to the issuer with the browser's cookies for that URL (no redirect followed). */
export async function postAsBrowser(page: Page, url: string, form: Record<string, string>): Promise<Response> {
  const cookies = await page.context().cookies(url);
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') },
    body: new URLSearchParams(form).toString(),
  });
}
