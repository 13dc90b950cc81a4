import type { z } from 'zod';

import type { AdminCaller } from './access-token.js';
import type { AdminScope } from './admin-api.js';

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  caller: AdminCaller;
  /** the If-Match header, when sent */
  ifMatch: string | undefined;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  /** the resource's entity tag (ETag header), for If-Match on its next update */
  etag?: string;
  location?: string;
}

/**
 * One admin operation, declared once: the router serves it from this and the OpenAPI document
 * describes it from this (its zod schemas validate the request and become the document's schemas).
 */
export interface AdminRoute {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** OpenAPI style, under /admin/v1: /users/{id} */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  scope: AdminScope;
  params?: z.ZodObject | undefined;
  query?: z.ZodObject | undefined;
  body?: z.ZodType | undefined;
  /** status and schema of the success answer (no schema: no body) */
  success: { status: number; schema?: z.ZodType | undefined; description: string };
  /** the error statuses it may answer besides 400, 401, 403, 429 and 503 */
  errors?: number[] | undefined;
  /** honours Idempotency-Key (creates) */
  idempotent?: boolean | undefined;
  /** what of the answer is kept for Idempotency-Key repeats (e.g. not a secret shown once); default all */
  keepForRepeats?: ((result: RouteResult) => RouteResult) | undefined;
  /** sends an ETag and honours If-Match */
  etag?: boolean | undefined;
  handle(input: RouteInput<never, never, never>): Promise<RouteResult>;
}

/** Declares a route with its handler typed by its own schemas. */
export function route<P extends z.ZodObject | undefined = undefined, Q extends z.ZodObject | undefined = undefined, B extends z.ZodType | undefined = undefined>(
  def: Omit<AdminRoute, 'handle' | 'params' | 'query' | 'body'> & {
    params?: P;
    query?: Q;
    body?: B;
    handle(input: RouteInput<P extends z.ZodType ? z.output<P> : undefined, Q extends z.ZodType ? z.output<Q> : undefined, B extends z.ZodType ? z.output<B> : undefined>): Promise<RouteResult>;
  },
): AdminRoute {
  return def as unknown as AdminRoute;
}

/** /users/{id} → /users/:id (the router's syntax). */
export const routerPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');
