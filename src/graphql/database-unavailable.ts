// One answer for "the database is not there right now", whichever path met it: a resolver's query
// (formatted by format-error.ts), the grid response cache's check before execution, or /healthz.
// Every such response is HTTP 503 with Retry-After as a whole — even when other fields of it
// succeeded — so a client or load balancer never sees a 200 with `data: null` for one field and a
// 500 for the same outage on another.
import type { ApolloServerPlugin } from '@apollo/server';
import { databaseFailure } from '../db/unavailable.ts';
import { DatabaseUnavailableError, ErrorCode } from './errors.ts';

/** Seconds a client is asked to wait (Retry-After) before trying again. */
export const RETRY_AFTER_SECONDS = 5;

/** The coded error for `error` when it means the database is unavailable; null otherwise. */
export function asDatabaseUnavailable(error: unknown): DatabaseUnavailableError | null {
  if (error instanceof DatabaseUnavailableError) return error;
  const failure = databaseFailure(error);
  return failure ? new DatabaseUnavailableError(failure, RETRY_AFTER_SECONDS, error) : null;
}

/** Sets 503 and Retry-After on any response that carries a DATABASE_UNAVAILABLE error. */
export function databaseUnavailablePlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const { body } = response;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          if (!errors?.some((error) => error.extensions?.code === ErrorCode.DATABASE_UNAVAILABLE)) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}
