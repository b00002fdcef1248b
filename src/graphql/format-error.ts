// How errors leave the server: codes always; stack traces, source paths and the database's own
// messages only when EXPOSE_ERROR_DETAILS asks for them (never by default, in development neither);
// unexpected failures masked and logged instead. A failure that means the database is unavailable
// becomes DATABASE_UNAVAILABLE (database-unavailable.ts makes the response 503) and is logged as one
// short warning, which the logger rate-limits during an outage.
import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from '../log.ts';
import { asDatabaseUnavailable } from './database-unavailable.ts';
import { DatabaseUnavailableError, ErrorCode } from './errors.ts';

/** An unexpected error as log fields: its message and, for the operator, its stack. */
export function errorFields(error: unknown): { error: string; stack?: string } {
  return error instanceof Error ? { error: error.message, stack: error.stack } : { error: String(error) };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function createErrorFormatter(exposeDetails: boolean, log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (code !== ErrorCode.INTERNAL_SERVER_ERROR && code !== ErrorCode.DATABASE_UNAVAILABLE) return formatted;
    const original = (error as { originalError?: unknown })?.originalError ?? error;
    // Apollo's own request checks (a persisted-query hash that does not match its document, an
    // unsupported APQ version) carry an HTTP 4xx but no code: the client's mistake, said as BAD_REQUEST.
    const status = (original as { extensions?: { http?: { status?: number } } } | undefined)?.extensions?.http?.status;
    if (code === ErrorCode.INTERNAL_SERVER_ERROR && status !== undefined && status >= 400 && status < 500) {
      return { message: formatted.message, extensions: { code: ErrorCode.BAD_REQUEST } };
    }
    const unavailable = asDatabaseUnavailable(original);
    if (unavailable) {
      const underlying = unavailable.underlying ?? (original instanceof DatabaseUnavailableError ? undefined : original);
      log.warn('database unavailable', { reason: unavailable.reason, error: messageOf(underlying ?? unavailable) });
      const extensions: Record<string, unknown> = { code: ErrorCode.DATABASE_UNAVAILABLE, reason: unavailable.reason, retryAfter: unavailable.retryAfterSeconds };
      if (exposeDetails) Object.assign(extensions, { detail: messageOf(underlying ?? unavailable), stacktrace: formatted.extensions?.stacktrace });
      return { message: unavailable.message, ...(formatted.path ? { path: formatted.path } : {}), extensions };
    }
    log.error('GraphQL request failed unexpectedly', errorFields(original));
    if (exposeDetails) return formatted;
    return { message: 'Internal server error.', ...(formatted.path ? { path: formatted.path } : {}), extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}
