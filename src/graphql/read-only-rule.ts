// graphql-js 16 only notices a mutation against a schema without a Mutation type at execution
// (an internal error); this validation rule rejects it up front with a message saying why.
import { GraphQLError, type ValidationRule } from 'graphql';

export const KnownOperationTypesRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    const schema = context.getSchema();
    const root = node.operation === 'mutation' ? schema.getMutationType() : node.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
    if (!root) {
      context.reportError(
        new GraphQLError(`This API is read-only and has no ${node.operation} type: writes happen through the probe-atlas scripts.`, { nodes: node }),
      );
    }
  },
});
