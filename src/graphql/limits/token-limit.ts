// The token limit: graphql-js's parser stops at `maxTokens` (Apollo's `parseOptions`), so a huge
// document costs at most that many tokens of lexing. Apollo reports the parser's refusal as
// GRAPHQL_PARSE_FAILED; this formatter step gives it its own code, QUERY_TOO_LARGE, naming the limit.
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../errors.ts';

// graphql-js 16 spells it "more that"; accept the corrected spelling of later versions too.
const TOO_MANY_TOKENS = /Document contains more th(?:at|an) (\d+) tokens/;

export function markTokenLimit(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (formatted.extensions?.code !== ErrorCode.GRAPHQL_PARSE_FAILED) return formatted;
  const match = TOO_MANY_TOKENS.exec(formatted.message);
  if (!match) return formatted;
  const max = Number(match[1]);
  return {
    ...formatted,
    message: `Query has more than ${max} tokens; the maximum is ${max} (GRAPHQL_MAX_TOKENS).`,
    extensions: { ...formatted.extensions, code: ErrorCode.QUERY_TOO_LARGE, limit: 'GRAPHQL_MAX_TOKENS', count: null, max },
  };
}
