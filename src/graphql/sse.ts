// GraphQL subscriptions over Server-Sent Events at /graphql/stream: the graphql-sse protocol (its
// "distinct connections" mode — one POST or GET with `Accept: text/event-stream` per subscription —
// and its single-connection mode with a reserved stream), from graphql-sse's own handler. The glue
// to node:http is the library's use/http adapter written out so the body goes through readBody's size
// cap (the adapter buffers any body), and so CORS headers and the API's error formatting apply.
// Only subscriptions are served here, within the same token, depth, nesting, alias and cost limits as /graphql;
// queries and mutations go to /graphql (Apollo, with its limits and caching).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, getVariableValues, GraphQLError, Kind, parse, validate as graphqlValidate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { createHandler } from 'graphql-sse';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { createContext, type ApiContext } from './context.ts';
import { createErrorFormatter } from './format-error.ts';
import { QueryNestedTooDeepError, QueryTooCostlyError, QueryTooDeepError, QueryTooLargeError } from './errors.ts';
import { operationCost } from './limits/cost.ts';
import { measureOperation } from './limits/measure.ts';
import { resolveLimits } from './limits/resolve.ts';
import type { RunEvents } from './live.ts';
import { readBody } from './read-body.ts';

export const GRAPHQL_STREAM_PATH = '/graphql/stream';

/** graphql-sse types its context as a record; ours is an interface (no index signature). */
type StreamContext = ApiContext & Record<PropertyKey, unknown>;

/** graphql-js validation, then: subscriptions only, and the limits /graphql enforces on a document's shape. */
function subscriptionValidator(config: Config) {
  const limits = resolveLimits(config.limits);
  return (schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] => {
    const errors = graphqlValidate(schema, document);
    if (errors.length) return errors;
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      if (definition.operation !== 'subscription') {
        return [new GraphQLError(`${GRAPHQL_STREAM_PATH} serves subscriptions only; send a ${definition.operation} to /graphql.`, { nodes: definition })];
      }
      const measured = measureOperation(definition, document);
      if (measured.nesting > limits.maxNesting) return [new QueryNestedTooDeepError(measured.nesting, limits.maxNesting)];
      if (measured.depth > limits.maxDepth) return [new QueryTooDeepError(measured.depth, limits.maxDepth)];
      if (measured.aliases > limits.maxAliases) return [new QueryTooLargeError('GRAPHQL_MAX_ALIASES', 'aliases', measured.aliases, limits.maxAliases)];
      if (measured.directives > limits.maxDirectives) return [new QueryTooLargeError('GRAPHQL_MAX_DIRECTIVES', 'directives', measured.directives, limits.maxDirectives)];
    }
    return [];
  };
}

/**
 * The estimated cost of the operation (limits/cost.ts, as /graphql costs a query: one event's work) when
 * it exceeds GRAPHQL_MAX_COST, as the operation's only result; undefined to let the library go on
 * (and report a document that does not parse or validate in its own way).
 */
function refuseCostly(schema: GraphQLSchema, config: Config, params: { query: string; operationName?: string; variables?: Record<string, unknown> }) {
  const limits = resolveLimits(config.limits);
  let document: DocumentNode;
  try {
    document = parse(params.query, { maxTokens: limits.maxTokens });
  } catch (error) {
    // Past the token limit: refused here; any other syntax error is the library's to report.
    if (error instanceof GraphQLError && /Document contains more th(?:at|an) \d+ tokens/.test(error.message)) {
      return refused(new QueryTooLargeError('GRAPHQL_MAX_TOKENS', 'tokens', null, limits.maxTokens));
    }
    return undefined;
  }
  const operation = getOperationAST(document, params.operationName);
  if (!operation || graphqlValidate(schema, document).length) return undefined;
  const variables = getVariableValues(schema, operation.variableDefinitions ?? [], params.variables ?? {});
  if (variables.errors) return undefined;
  const cost = operationCost({ schema, document, operation, variables: variables.coerced, maxPageSize: limits.maxPageSize });
  return cost > limits.maxCost ? refused(new QueryTooCostlyError(cost, limits.maxCost)) : undefined;
}

/** An operation's only result, refused before execution. graphql-sse tells a result from arguments by its `data` key (left out of the JSON when undefined). */
const refused = (error: GraphQLError) => ({ data: undefined, errors: [error] });

/** Handles every request to GRAPHQL_STREAM_PATH; `corsHeaders` are added to the response's own. */
export function createSseHandler(options: { schema: GraphQLSchema; db: Database; config: Config; log: Logger; live: RunEvents }) {
  const { schema, db, config, log, live } = options;
  const formatError = createErrorFormatter(config.exposeErrorDetails ?? false, log);
  const handler = createHandler<IncomingMessage, { res: ServerResponse }, StreamContext>({
    schema,
    validate: subscriptionValidator(config) as typeof graphqlValidate,
    onSubscribe: (_request, params) => refuseCostly(schema, config, params),
    context: (request) => createContext(db, config, undefined, { authorization: request.raw.headers.authorization, live }) as StreamContext,
    onNext: (_context, _request, result) => {
      if (!result.errors?.length) return;
      const errors = result.errors.map((error) => formatError(error instanceof GraphQLError ? error.toJSON() : { message: String(error) }, error));
      return { ...result, errors: errors as unknown as readonly GraphQLError[] };
    },
    onComplete: (context) => context.operation.finish(),
  });

  return async (request: IncomingMessage, response: ServerResponse, corsHeaders: Record<string, string>): Promise<void> => {
    const [body, init] = await handler({
      method: request.method!,
      url: request.url!,
      headers: {
        get(key: string) {
          const header = request.headers[key];
          return Array.isArray(header) ? header.join('\n') : header;
        },
      },
      body: () => readBody(request),
      raw: request,
      context: { res: response },
    });
    // A stream's socket is not reused (Connection: close): when stop() ends the streams, their sockets
    // close with them instead of idling until the keep-alive timeout holds the server's close up.
    const stream = !!body && typeof body !== 'string';
    response.writeHead(init.status, init.statusText, { ...corsHeaders, ...init.headers, ...(stream ? { connection: 'close' } : {}) });
    if (!body || typeof body === 'string') {
      await new Promise<void>((resolve) => response.end(body ?? undefined, () => resolve()));
      return;
    }
    // The client went away: end the operation (its subscription is unsubscribed by the library).
    const stop = () => void body.return?.(undefined);
    response.once('close', stop);
    try {
      for await (const chunk of body) {
        if (!response.writable) break;
        const closed = await new Promise<boolean>((resolve, reject) => response.write(chunk, (error) => (error ? reject(error) : resolve(false))));
        if (closed) break;
      }
    } finally {
      response.off('close', stop);
    }
    await new Promise<void>((resolve) => response.end(() => resolve()));
  };
}
