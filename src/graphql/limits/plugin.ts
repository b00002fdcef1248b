// Rejects abusive operations after validation and before execution, in time linear in the document
// (measure.ts, cost.ts): QUERY_TOO_DEEP (depth or nesting), QUERY_TOO_LARGE (aliases, directives),
// QUERY_TOO_COSTLY, all with HTTP 400 (errors thrown here are reported by Apollo with their
// http.status). The token limit acts earlier, in the parser (see token-limit.ts). graphql-js's own
// validation, which runs before this, was measured linear on fragment bombs and nested fragments.
import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { getVariableValues } from 'graphql';
import { QueryNestedTooDeepError, QueryTooCostlyError, QueryTooDeepError, QueryTooLargeError } from '../errors.ts';
import { operationCost } from './cost.ts';
import { measureOperation, type OperationMeasure } from './measure.ts';
import type { RequestLimits } from './resolve.ts';

export type AfterLimits<Context extends object> = (requestContext: GraphQLRequestContextDidResolveOperation<Context>, measured: OperationMeasure) => Promise<void>;

/** `afterLimits` runs once an operation has passed every check (admission control of heavy operations). */
export function queryLimitsPlugin<Context extends object>(limits: RequestLimits, afterLimits?: AfterLimits<Context>): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(requestContext) {
          const { operation, document, schema, request } = requestContext;
          if (!operation) return;
          const measured = measureOperation(operation, document);
          if (measured.nesting > limits.maxNesting) throw new QueryNestedTooDeepError(measured.nesting, limits.maxNesting);
          if (measured.depth > limits.maxDepth) throw new QueryTooDeepError(measured.depth, limits.maxDepth);
          if (measured.aliases > limits.maxAliases) throw new QueryTooLargeError('GRAPHQL_MAX_ALIASES', 'aliases', measured.aliases, limits.maxAliases);
          if (measured.directives > limits.maxDirectives) {
            throw new QueryTooLargeError('GRAPHQL_MAX_DIRECTIVES', 'directives', measured.directives, limits.maxDirectives);
          }
          // Variables that do not coerce: execution refuses them itself (BAD_USER_INPUT, HTTP 400)
          // before any resolver runs, so there is nothing to cost.
          const variables = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {});
          if (variables.errors) return;
          const cost = operationCost({ schema, document, operation, variables: variables.coerced, maxPageSize: limits.maxPageSize });
          if (cost > limits.maxCost) throw new QueryTooCostlyError(cost, limits.maxCost);
          await afterLimits?.(requestContext, measured);
        },
      };
    },
  };
}
