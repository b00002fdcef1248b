// How errors leave the server: codes always; stack traces only in development (Apollo's
// includeStacktraceInErrorResponses); unexpected failures masked in production and logged instead.
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode } from './errors.ts';

export function createErrorFormatter(
  development: boolean,
  log: (message: string, error: unknown) => void = (message, error) => console.error(message, error),
) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    if (formatted.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
    log('GraphQL request failed unexpectedly', error);
    if (development) return formatted;
    return { message: 'Internal server error.', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}
