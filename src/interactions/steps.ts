import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

import type { PolicyClient } from '../clients/client-access.js';

export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The client of an interaction as its pages show it. */
export interface ClientInfo {
  client: PolicyClient;
  name: string;
  firstParty: boolean;
  /** where forms on its pages may end up besides us (its redirect URI) */
  formTargets: readonly string[];
}

/** What the login page can say besides the form (a catalogue key). */
export type LoginMessage =
  | 'login.failed' | 'login.busy' | 'login.passkeyFailed' | 'login.expired'
  // an upstream sign-in that did not work ({name}: the upstream's button label; {reference}: the request id)
  | 'login.upstreamFailed' | 'login.upstreamUnreachable' | 'login.upstreamExpired' | 'login.upstreamCancelled'
  | 'login.upstreamNoAccount' | 'login.upstreamEmailInUse' | 'login.upstreamUnknown';

/**
 * What every step of the interaction router shares: the checked interaction, its client, the
 * login page, and finishing the interaction (a 303 back to oidc-provider).
 */
export interface Steps {
  /** The interaction (its uid checked against the URL, CSRF checked on POSTs, `expectedPrompt` if given). */
  details(ctx: Context, expectedPrompt?: string): Promise<Details>;
  client(ctx: Context, found: Details): Promise<ClientInfo>;
  sendLogin(ctx: Context, found: Details, extra?: { login?: string; error?: LoginMessage; errorParams?: Record<string, string> }): Promise<void>;
  finish(ctx: Context, result: InteractionResults, mergeWithLastSubmission: boolean): Promise<void>;
}
