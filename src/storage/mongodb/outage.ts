import { MongoNetworkError, MongoNotConnectedError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';

import { StoreUnavailableError } from '../errors.js';

/** Driver errors that mean "the database cannot be reached or used right now". */
export const isOutage = (err: unknown) =>
  err instanceof MongoNetworkError ||
  err instanceof MongoServerSelectionError ||
  err instanceof MongoNotConnectedError ||
  err instanceof MongoTopologyClosedError;

export const asStoreError = (err: unknown): unknown =>
  isOutage(err) ? new StoreUnavailableError(`the database is unavailable: ${(err as Error).message}`, { cause: err }) : err;

/** Turns outage errors from every method of a sub-store into StoreUnavailableError. */
export function mapOutages<T extends object>(target: T): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (err) {
          throw asStoreError(err);
        }
      };
    },
  });
}
