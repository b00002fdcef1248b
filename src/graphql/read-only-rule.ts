// graphql-js 16 only notices an operation whose root type the schema lacks at execution (an internal
// error); this validation rule rejects it up front with a message saying why. On the plain endpoint
// it also refuses subscriptions, which are served over Server-Sent Events at /graphql/stream (sse.ts):
// Apollo Server would execute one as a single result. Mutations exist (cancelRun, retryRun) and pass
// here; their resolvers refuse a request without the control token, saying how to send it.
import { GraphQLError, type ValidationRule } from 'graphql';
import { GRAPHQL_STREAM_PATH } from './sse.ts';

export const KnownOperationTypesRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    const schema = context.getSchema();
    const root = node.operation === 'mutation' ? schema.getMutationType() : node.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
    if (!root) {
      context.reportError(new GraphQLError(`This API has no ${node.operation} type: writes of data happen through the probe-atlas scripts.`, { nodes: node }));
    } else if (node.operation === 'subscription') {
      context.reportError(
        new GraphQLError(
          `Subscriptions are served over Server-Sent Events at ${GRAPHQL_STREAM_PATH} (the graphql-sse protocol: POST the same body there with \`Accept: text/event-stream\`), not here.`,
          { nodes: node },
        ),
      );
    }
  },
});
