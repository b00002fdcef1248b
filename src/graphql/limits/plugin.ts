// Rejects abusive operations after validation and before execution, with QUERY_TOO_DEEP or
// QUERY_TOO_COSTLY and HTTP 400 (errors thrown here are reported by Apollo with their http.status).
import type { ApolloServerPlugin } from '@apollo/server';
import { getVariableValues } from 'graphql';
import type { Config } from '../../config.ts';
import { QueryTooCostlyError, QueryTooDeepError } from '../errors.ts';
import { operationCost } from './cost.ts';
import { operationDepth } from './depth.ts';

export function queryLimitsPlugin<Context extends object>(limits: Config['limits']): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, schema, request }) {
          if (!operation) return;
          const depth = operationDepth(operation, document);
          if (depth > limits.maxDepth) throw new QueryTooDeepError(depth, limits.maxDepth);
          // Variables that do not coerce: execution refuses them itself (BAD_USER_INPUT, HTTP 400)
          // before any resolver runs, so there is nothing to cost.
          const variables = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {});
          if (variables.errors) return;
          let cost: number;
          try {
            cost = operationCost({ schema, document, operationName: request.operationName, variables: request.variables, maxPageSize: limits.maxPageSize });
          } catch (error) {
            // graphql-query-complexity gives up on huge documents (more than 10,000 field nodes).
            throw new QueryTooCostlyError(Number.POSITIVE_INFINITY, limits.maxCost, (error as Error).message);
          }
          if (cost > limits.maxCost) throw new QueryTooCostlyError(cost, limits.maxCost);
        },
      };
    },
  };
}
