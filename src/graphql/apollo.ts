// The Apollo Server instance: our schema, limits and error formatting; Apollo's CDN landing page off
// (the offline playground is served by http-handler.ts instead).
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config.ts';
import type { ApiContext } from './context.ts';
import { createErrorFormatter } from './format-error.ts';
import { queryLimitsPlugin } from './limits/plugin.ts';
import { KnownOperationTypesRule } from './read-only-rule.ts';
import { resolvers } from './resolvers/index.ts';
import { buildExecutableSchema, loadTypeDefs } from './schema.ts';

export function createExecutableSchema(): GraphQLSchema {
  return buildExecutableSchema(loadTypeDefs(), resolvers);
}

export async function startApollo(config: Config, schema = createExecutableSchema()): Promise<ApolloServer<ApiContext>> {
  const apollo = new ApolloServer<ApiContext>({
    schema,
    introspection: true,
    includeStacktraceInErrorResponses: config.development,
    formatError: createErrorFormatter(config.development),
    validationRules: [KnownOperationTypesRule],
    plugins: [ApolloServerPluginLandingPageDisabled(), queryLimitsPlugin(config.limits)],
  });
  await apollo.start();
  return apollo;
}
