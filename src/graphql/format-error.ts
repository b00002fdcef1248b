// How errors leave the server: codes always; stack traces only in development (Apollo's
// includeStacktraceInErrorResponses); unexpected failures masked in production and logged instead.
import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from '../log.ts';
import { ErrorCode } from './errors.ts';

/** An unexpected error as log fields: its message and, for the operator, its stack. */
export function errorFields(error: unknown): { error: string; stack?: string } {
  return error instanceof Error ? { error: error.message, stack: error.stack } : { error: String(error) };
}

export function createErrorFormatter(development: boolean, log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    if (formatted.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
    log.error('GraphQL request failed unexpectedly', errorFields((error as { originalError?: unknown })?.originalError ?? error));
    if (development) return formatted;
    return { message: 'Internal server error.', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}
