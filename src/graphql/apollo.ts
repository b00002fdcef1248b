// The Apollo Server instance: our schema, limits and error formatting; Apollo's CDN landing page off
// (the offline playground is served by http-handler.ts instead). Apollo's cache-control plugin is off
// too: we set no cache hints, and it walked every resolved field of every request (~2 ms on an
// 800-cell grid); usage/schema reporting and inline traces are pinned off (offline, no Studio).
// Automatic persisted queries are Apollo's own, left on with its default cache (an LRU bounded at
// about 30 MiB per process): a client that meets PERSISTED_QUERY_NOT_FOUND on another replica just
// sends the document again (test/graphql/apq.test.ts, docs/api.md "Caching").
// Request budgets: the parser stops at GRAPHQL_MAX_TOKENS, the limits plugin refuses abusive shapes
// in linear time, then heavy operations are admitted by the server-wide gate (limits/).
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config.ts';
import type { ApiContext } from './context.ts';
import type { Logger } from '../log.ts';
import { databaseUnavailablePlugin } from './database-unavailable.ts';
import { createErrorFormatter } from './format-error.ts';
import { heavyAdmission } from './limits/admission-plugin.ts';
import { queryLimitsPlugin } from './limits/plugin.ts';
import { resolveLimits } from './limits/resolve.ts';
import { markTokenLimit } from './limits/token-limit.ts';
import { gridResponseCachePlugin, hasCachedGridResponse, stringifyResult } from './plugins/grid-response-cache.ts';
import { KnownOperationTypesRule } from './read-only-rule.ts';
import { resolvers } from './resolvers/index.ts';
import { buildExecutableSchema, loadTypeDefs } from './schema.ts';

export function createExecutableSchema(): GraphQLSchema {
  return buildExecutableSchema(loadTypeDefs(), resolvers);
}

export async function startApollo(config: Config, log: Logger, schema = createExecutableSchema()): Promise<ApolloServer<ApiContext>> {
  const limits = resolveLimits(config.limits);
  const admission = heavyAdmission(limits, { answeredWithoutExecution: hasCachedGridResponse });
  const formatError = createErrorFormatter(config.exposeErrorDetails ?? false, log);
  const apollo = new ApolloServer<ApiContext>({
    schema,
    parseOptions: { maxTokens: limits.maxTokens },
    introspection: true,
    // The process owner stops the server (scripts/serve.ts on SIGINT/SIGTERM, the tests). Apollo's own
    // handlers would call stop() concurrently, and a second concurrent stop() of Apollo Server 5
    // never settles (its barrier is resolved only on failure): SIGTERM then hung the API process.
    stopOnTerminationSignals: false,
    // Stack traces and source paths only when asked for (EXPOSE_ERROR_DETAILS), not merely in development.
    includeStacktraceInErrorResponses: config.exposeErrorDetails ?? false,
    formatError: (formatted, error) => formatError(markTokenLimit(formatted), error),
    validationRules: [KnownOperationTypesRule],
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      queryLimitsPlugin(limits, admission.admit),
      admission.plugin,
      // After the limits plugin: a cached grid response is still refused if the document is too deep or costly.
      gridResponseCachePlugin(),
      // A response carrying DATABASE_UNAVAILABLE is 503 with Retry-After as a whole.
      databaseUnavailablePlugin(),
    ],
    stringifyResult,
  });
  await apollo.start();
  return apollo;
}
