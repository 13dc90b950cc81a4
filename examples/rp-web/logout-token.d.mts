// Types for logout-token.mjs.
import type { JWTPayload } from 'jose';

export declare const backchannelLogoutEvent: 'http://schemas.openid.net/event/backchannel-logout';

export declare class LogoutTokenError extends Error {}

export interface LogoutTokenClaims extends JWTPayload {
  events: Record<string, object>;
  sid?: string;
}

export declare function createLogoutTokenValidator(options: {
  issuer: string;
  clientId: string;
  jwksUri: string | URL;
  maxAgeSeconds?: number;
}): { validate(token: unknown): Promise<LogoutTokenClaims> };
