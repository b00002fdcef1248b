// The grid response cache, one of the server's Apollo plugins (registered in apollo.ts after the
// limits plugin, so a cached response is still refused when the document is too deep or costly): a
// repeated `grid`-only request over COMPLETED probe runs skips execution and serialisation, after one
// catalogue statement (the answer token, src/grid/) confirms the answer still holds. The grid
// resolver tells it what it answered (`recordGridAnswer`) and asks it whether the check met a
// database outage (`outageBeforeExecution`), which then becomes the field's DATABASE_UNAVAILABLE.
// The same answer token gives those responses their ETag and Cache-Control (../http-cache.ts).
import type { ApolloServerPlugin, HeaderMap } from '@apollo/server';
import { Kind, type FormattedExecutionResult, type OperationDefinitionNode } from 'graphql';
import type { Config } from '../../config.ts';
import type { ApiContext } from '../context.ts';
import { asDatabaseUnavailable } from '../database-unavailable.ts';
import { currentAnswerToken, DEFAULT_MAX_GRID_CELLS, GridResultCache, type GridQuery } from '../../grid/index.ts';
import { CACHEABLE_GRID, etagIndexFor, gridEtag, requestKey, sha256Hex, UNCACHEABLE_GRID } from '../http-cache.ts';

/** The cell bound grid requests run under (GRID_MAX_CELLS); part of a response's key. */
export function gridCellBound(config: Config): number {
  return config.limits.maxGridCells ?? DEFAULT_MAX_GRID_CELLS;
}

export function maxGridCells(context: ApiContext): number {
  return gridCellBound(context.config);
}

interface CachedResponse {
  query: GridQuery;
  data: Record<string, unknown>;
  /** Estimated JSON bytes of `data` (the operation's reserved response bytes). */
  bytes: number;
}

/** Grid answers computed while resolving a request, for the response cache to store. */
const answered = new WeakMap<ApiContext, { query: GridQuery; token: string | null }[]>();
const responseCaches = new WeakMap<object, GridResultCache<CachedResponse>>();
/** A database outage met by the cache check before execution, for the grid resolver to report. */
const outageSeen = new WeakMap<ApiContext, Error>();
/** Serialised form of the `data` of cached responses (filled on first use). */
const cachedJson = new WeakMap<object, string | null>();

export function gridResponseCacheFor(pool: object): GridResultCache<CachedResponse> {
  let cache = responseCaches.get(pool);
  // The data's objects take ~1.3× its JSON on the heap, and the JSON itself is kept once serialised.
  if (!cache) responseCaches.set(pool, (cache = new GridResultCache<CachedResponse>(256, undefined, undefined, { weigh: (entry) => 1_024 + entry.bytes * 2.5 })));
  return cache;
}

/** The response cache's key of a `grid`-only request. */
function responseKey(requestContext: { source?: string; request: { operationName?: string | null; variables?: Record<string, unknown> }; contextValue: ApiContext }): string {
  const { request } = requestContext;
  return JSON.stringify([requestContext.source, request.operationName ?? null, request.variables ?? {}, maxGridCells(requestContext.contextValue)]);
}

/** The HTTP cache's key of the same request (the document by its sha256, so a persisted-query hash names it too). */
function httpKey(requestContext: Parameters<typeof responseKey>[0]): string {
  const { request } = requestContext;
  return requestKey({
    documentHash: sha256Hex(requestContext.source ?? ''),
    operationName: request.operationName,
    variables: request.variables,
    maxGridCells: maxGridCells(requestContext.contextValue),
  });
}

/** ETag and Cache-Control of a grid-only answer; a token of null (runs still changing) is never cached. */
function setCacheHeaders(headers: HeaderMap, requestContext: Parameters<typeof responseKey>[0], query: GridQuery, token: string | null): void {
  if (token === null) {
    headers.set('cache-control', UNCACHEABLE_GRID);
    return;
  }
  const key = httpKey(requestContext);
  const etag = gridEtag(token, key);
  etagIndexFor(requestContext.contextValue.db.pool).remember(etag, { key, token, query });
  headers.set('etag', etag);
  headers.set('cache-control', CACHEABLE_GRID);
}

/**
 * Whether a cached response may answer this request without execution (admission control lets it
 * through: one catalogue statement). If the entry proves stale, the grid resolver takes a slot itself.
 */
export function hasCachedGridResponse(requestContext: Parameters<typeof responseKey>[0] & { operation?: OperationDefinitionNode }): boolean {
  return isGridOnly(requestContext.operation) && gridResponseCacheFor(requestContext.contextValue.db.pool).has(responseKey(requestContext));
}

/** A query whose only root field is `grid`: its whole response is a function of that grid's answer. */
function isGridOnly(operation: OperationDefinitionNode | undefined): boolean {
  if (operation?.operation !== 'query' || operation.selectionSet.selections.length !== 1) return false;
  const [field] = operation.selectionSet.selections;
  return field?.kind === Kind.FIELD && field.name.value === 'grid' && !field.directives?.length;
}

/**
 * Reuses the whole response of a `grid`-only query for an identical request (document, operation
 * name, variables, cell bound) while its answer token — run fingerprint and axes, read by the one
 * catalogue statement a hit costs — is unchanged; so only answers over COMPLETED runs are reused.
 * Runs after validation and the depth/cost limits; responses with errors are never stored.
 */
export function gridResponseCachePlugin(): ApolloServerPlugin<ApiContext> {
  return {
    async requestDidStart() {
      let key: string | undefined;
      let hit = false;
      return {
        async responseForOperation(requestContext) {
          if (!isGridOnly(requestContext.operation)) return null;
          const context = requestContext.contextValue;
          key = responseKey(requestContext);
          const cache = gridResponseCacheFor(context.db.pool);
          const candidate = cache.peek(key);
          if (!candidate) return null;
          let token: string | null;
          try {
            // Concurrent hits on one entry share one fresh statement (http-cache.ts SharedCheck).
            token = await etagIndexFor(context.db.pool).checks.run(`response:${key}`, () => currentAnswerToken(context.db.pool, candidate.query));
          } catch (error) {
            // Thrown from a plugin hook, Apollo would mask it as a bare 500. An outage instead becomes
            // the grid field's own DATABASE_UNAVAILABLE (503), as on every other field, without a second wait.
            const unavailable = asDatabaseUnavailable(error);
            if (!unavailable) throw error;
            outageSeen.set(context, unavailable);
            return null;
          }
          const entry = token === null ? undefined : cache.get(key, { key: token, cacheable: true });
          if (!entry) {
            if (token === null) cache.get(key, { key: '', cacheable: false }); // drops the stale entry
            return null;
          }
          hit = true;
          setCacheHeaders(requestContext.response.http.headers, requestContext, candidate.query, token);
          return { http: requestContext.response.http, body: { kind: 'single', singleResult: { data: entry.data } } };
        },
        async willSendResponse(requestContext) {
          if (hit || key === undefined) return;
          const { body } = requestContext.response;
          if (body.kind !== 'single' || body.singleResult.errors?.length || !body.singleResult.data) return;
          const answers = answered.get(requestContext.contextValue);
          if (answers?.length !== 1) return;
          setCacheHeaders(requestContext.response.http.headers, requestContext, answers[0]!.query, answers[0]!.token);
          if (answers[0]!.token === null) return;
          const data = body.singleResult.data;
          const bytes = requestContext.contextValue.operation.reserved.bytes;
          gridResponseCacheFor(requestContext.contextValue.db.pool).set(key, { key: answers[0]!.token, cacheable: true }, { query: answers[0]!.query, data, bytes });
          cachedJson.set(data, null);
        },
      };
    },
  };
}

/**
 * Apollo's `stringifyResult`: as Apollo's own (`JSON.stringify(value) + '\n'`), but a cached grid
 * response is serialised once, not on every hit.
 */
export function stringifyResult(value: FormattedExecutionResult): string {
  const data = value.data as object | null | undefined;
  const cached = data && !value.errors && !value.extensions ? cachedJson.get(data) : undefined;
  if (cached) return cached;
  const json = `${JSON.stringify(value)}\n`;
  // Only a response exactly `{ data }` can be reused for another request with the same data.
  if (cached === null && Object.keys(value).every((k) => k === 'data' || (value as Record<string, unknown>)[k] === undefined)) cachedJson.set(data!, json);
  return json;
}

/** Called by the grid resolver: the answer it computed for this request (the response is stored only if it is the only one). */
export function recordGridAnswer(context: ApiContext, query: GridQuery, token: string | null): void {
  const answers = answered.get(context) ?? [];
  answers.push({ query, token });
  answered.set(context, answers);
}

/** A database outage the cache check met before execution, for the grid resolver to throw. */
export function outageBeforeExecution(context: ApiContext): Error | undefined {
  return outageSeen.get(context);
}
