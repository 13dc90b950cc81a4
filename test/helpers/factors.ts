/**
 * Second factors and passkeys for sign-in tests, set up through the core (src/factors) over a test
 * server's store: TOTP with codes computed from the secret, and passkeys enrolled by a real
 * Chromium with a virtual authenticator (CDP WebAuthn domain).
 */
import type { CDPSession, Page } from 'playwright-core';

import { createFactors, type Factors } from '../../src/factors/create-factors.js';
import { base32Decode, hotp, totpStep } from '../../src/factors/totp.js';
import { loadKeySet } from '../../src/keys/key-manager.js';
import type { AccountRecord } from '../../src/storage/types.js';
import type { TestServer } from './server.js';

/** The Factors bundle the server uses, built again over its store and cookie keys. */
export async function factorsOf(server: TestServer): Promise<Factors> {
  const keys = await loadKeySet(server.store);
  return createFactors({ store: server.store, issuer: server.url, productName: 'idport', cookieKeys: () => keys.cookieKeys });
}

/** An authenticator app: codes for unused time steps (a code is good once, within ±1 step). */
export interface TotpApp {
  secret: string;
  /** a code for a step not handed out before (now, or one step either side) */
  code(): string;
  /** a 6-digit code that is not valid now (for any step within ±1) */
  wrongCode(seed?: number): string;
  /** recovery codes issued when TOTP was confirmed */
  recoveryCodes: string[];
}

export async function enrolTotp(factors: Factors, account: AccountRecord): Promise<TotpApp> {
  const { secret } = factors.service.newTotp(account.username);
  const key = base32Decode(secret)!;
  const handed = new Set<number>();
  const code = () => {
    const now = totpStep(Date.now());
    const step = [now, now + 1, now - 1].find((s) => !handed.has(s));
    if (step === undefined) throw new Error('no unused TOTP step left right now');
    handed.add(step);
    return hotp(key, step);
  };
  const wrongCode = (seed = 0) => {
    const now = totpStep(Date.now());
    const valid = new Set([now - 2, now - 1, now, now + 1, now + 2].map((s) => hotp(key, s)));
    for (let n = seed; ; n += 1) {
      const candidate = String((n * 7919) % 1_000_000).padStart(6, '0');
      if (!valid.has(candidate)) return candidate;
    }
  };
  const recoveryCodes = (await factors.service.confirmTotp(account.id, secret, code())) ?? [];
  return { secret, code, wrongCode, recoveryCodes };
}

/** A user-verifying platform authenticator holding discoverable credentials, in `page`'s browser tab. */
export async function addVirtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

/**
 * Registers a passkey for `account` the way the account pages will: options from the core, the
 * browser's navigator.credentials.create() on a page of the issuer's origin, the answer checked
 * and stored by the core. Returns the stored passkey's id.
 */
export async function enrolPasskey(page: Page, server: TestServer, factors: Factors, account: AccountRecord, name = 'Test key'): Promise<string> {
  if (!page.url().startsWith(server.url)) await page.goto(`${server.url}/.well-known/openid-configuration`);
  const binding = `enrol-test:${account.id}`;
  const options = await factors.passkeys.registrationOptions(account, binding);
  // Runs in the page (the type-check has no DOM lib: the browser's globals are described here).
  const answer = await page.evaluate(async (json) => {
    const scope = globalThis as unknown as {
      PublicKeyCredential: { parseCreationOptionsFromJSON(json: unknown): unknown };
      navigator: { credentials: { create(o: { publicKey: unknown }): Promise<{ toJSON(): unknown }> } };
    };
    const credential = await scope.navigator.credentials.create({ publicKey: scope.PublicKeyCredential.parseCreationOptionsFromJSON(json) });
    return credential.toJSON();
  }, options as unknown);
  const stored = await factors.passkeys.register(account, answer, binding, name);
  if (typeof stored === 'string') throw new Error(`the passkey was not registered: ${stored}`);
  return stored.id;
}
