// Estimated cost of an operation: every field costs 1 plus its children; a connection (a type named
// `…Connection`) costs 1 + page size × its children, the page size being its `first` (or the default).
import { getNamedType, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { defaultPageSize } from '../pagination.ts';

export function connectionEstimator(maxPageSize: number): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    if (!getNamedType(field.type).name.endsWith('Connection')) return 1 + childComplexity;
    const first = typeof args.first === 'number' ? args.first : defaultPageSize(maxPageSize);
    // Out-of-range `first` is rejected by the resolver with BAD_USER_INPUT naming it; cost it within range.
    const pageSize = Math.max(0, Math.min(first, maxPageSize));
    return 1 + pageSize * childComplexity;
  };
}

export function operationCost(options: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variables?: Record<string, unknown>;
  maxPageSize: number;
}): number {
  return getComplexity({
    schema: options.schema,
    query: options.document,
    operationName: options.operationName ?? undefined,
    variables: options.variables ?? {},
    estimators: [connectionEstimator(options.maxPageSize)],
  });
}
