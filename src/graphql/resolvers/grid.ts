// Grid, comparison and best-cell fields: validate (GridInputError → BAD_USER_INPUT naming the
// argument), run the grid SQL on the shared pool (src/grid/grid.ts), shape the result. No Prisma
// in this path: one catalogue statement and one aggregation statement per request (none when the
// grid's probe runs are all completed and its rows are cached, see src/grid/cache.ts). The grid
// code speaks statistics (`n`, `size`); the API's names (`scoreCount`, `cellCount`) are given here.
// Also the grid response cache (an Apollo plugin): a repeated request for a grid of completed runs
// skips execution and serialisation, after one catalogue statement confirms the answer still holds.
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type FormattedExecutionResult, type GraphQLResolveInfo, type OperationDefinitionNode } from 'graphql';
import type { ApiContext } from '../context.ts';
import { bytesPerCell } from '../limits/response-size.ts';
import { asDatabaseUnavailable } from '../database-unavailable.ts';
import { BadUserInputError } from '../errors.ts';
import {
  currentAnswerToken,
  DEFAULT_MAX_GRID_CELLS,
  GridInputError,
  GridResultCache,
  parseBestInput,
  parseCompareInput,
  parseGridInput,
  queryBestCells,
  queryComparison,
  queryGrid,
  type Axis,
  type BestCell,
  type GridCell,
  type GridQuery,
  type GridResult,
  type RawBestInput,
  type RawCompareInput,
  type RawGridInput,
  type SummaryRow,
} from '../../grid/index.ts';

// One cache per database pool (a process may serve several databases, e.g. in tests).
const caches = new WeakMap<object, GridResultCache<SummaryRow[]>>();

export function gridCacheFor(pool: object): GridResultCache<SummaryRow[]> {
  let cache = caches.get(pool);
  // Bounded by estimated heap bytes (a row object is ~140 bytes), not only by entry count.
  if (!cache) caches.set(pool, (cache = new GridResultCache<SummaryRow[]>(256, undefined, undefined, { weigh: (rows) => 1_024 + rows.length * 160 })));
  return cache;
}

function asBadInput<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof GridInputError) throw new BadUserInputError(error.argument, error.problem);
    throw error;
  }
}

async function asBadInputAsync<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof GridInputError) throw new BadUserInputError(error.argument, error.problem);
    throw error;
  }
}

function maxCells(context: ApiContext): number {
  return context.config.limits.maxGridCells ?? DEFAULT_MAX_GRID_CELLS;
}

/** Estimated response bytes of one best cell with its catalogue objects. */
const BEST_CELL_BYTES = 1_024;

/** The operation's signal and budget hook for one grid field (limits/operation.ts). */
function budget(context: ApiContext, info: GraphQLResolveInfo, dimensions: number) {
  const perCell = bytesPerCell(info, dimensions);
  const field = String(info.path.key);
  return {
    signal: context.operation.signal,
    reserve: (cells: number) => context.operation.reserve(field, cells, cells * perCell),
    aggregateEarly: context.operation.firstHeavyField(),
  };
}

function columns(cells: readonly GridCell[]) {
  return {
    scoreCount: cells.map((cell) => cell.n),
    mean: cells.map((cell) => cell.mean),
    sd: cells.map((cell) => cell.sd),
    ciLow: cells.map((cell) => cell.ciLow),
    ciHigh: cells.map((cell) => cell.ciHigh),
  };
}

function gridPayload(result: GridResult) {
  // `columns` is a thunk: the default resolver calls it only when the field is selected.
  return { ...result, columns: () => columns(result.cells) };
}

// ───────────────────────────── response cache ─────────────────────────────

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
  return JSON.stringify([requestContext.source, request.operationName ?? null, request.variables ?? {}, maxCells(requestContext.contextValue)]);
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
            token = await currentAnswerToken(context.db.pool, candidate.query);
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
          return { http: requestContext.response.http, body: { kind: 'single', singleResult: { data: entry.data } } };
        },
        async willSendResponse(requestContext) {
          if (hit || key === undefined) return;
          const { body } = requestContext.response;
          if (body.kind !== 'single' || body.singleResult.errors?.length || !body.singleResult.data) return;
          const answers = answered.get(requestContext.contextValue);
          if (answers?.length !== 1 || answers[0]!.token === null) return;
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

export const gridResolvers = {
  Query: {
    async grid(_parent: unknown, args: { input: RawGridInput }, context: ApiContext, info: GraphQLResolveInfo) {
      const outage = outageSeen.get(context);
      if (outage) throw outage;
      const query = asBadInput(() => parseGridInput(args.input));
      const result = await context.operation.run(() =>
        asBadInputAsync(() => queryGrid(context.db.pool, query, { maxCells: maxCells(context), cache: gridCacheFor(context.db.pool), ...budget(context, info, query.groupBy.length) })));
      const answers = answered.get(context) ?? [];
      answers.push({ query, token: result.answerToken });
      answered.set(context, answers);
      return gridPayload(result);
    },
    async compareGrid(_parent: unknown, args: { input: RawCompareInput }, context: ApiContext, info: GraphQLResolveInfo) {
      const query = asBadInput(() => parseCompareInput(args.input));
      const result = await context.operation.run(() =>
        asBadInputAsync(() => queryComparison(context.db.pool, query, { maxCells: maxCells(context), ...budget(context, info, query.groupBy.length) })));
      return {
        ...result,
        cellCount: result.size,
        cells: result.cells.map((cell) => ({
          index: cell.index,
          coordinates: cell.coordinates,
          leftMean: cell.left.mean,
          rightMean: cell.right.mean,
          difference: cell.difference,
          leftScoreCount: cell.left.n,
          rightScoreCount: cell.right.n,
          ciLow: cell.ciLow,
          ciHigh: cell.ciHigh,
        })),
      };
    },
    async bestCells(_parent: unknown, args: { input: RawBestInput }, context: ApiContext, info: GraphQLResolveInfo) {
      const query = asBadInput(() => parseBestInput(args.input));
      return context.operation.run(async () => {
        const cells = await queryBestCells(context.db.pool, query, { signal: context.operation.signal });
        // One row per attribute (group): small, but counted like grid cells, at a generous size each.
        context.operation.reserve(String(info.path.key), cells.length, cells.length * BEST_CELL_BYTES);
        return cells;
      });
    },
  },
  BestCell: {
    attributeGroup: (cell: BestCell, _args: unknown, context: ApiContext) => context.loaders.attributeGroup.load(cell.attributeGroupId),
    attribute: (cell: BestCell, _args: unknown, context: ApiContext) =>
      cell.attributeId === null ? null : context.loaders.attribute.load(cell.attributeId),
    component: (cell: BestCell, _args: unknown, context: ApiContext) => context.loaders.component.load(cell.componentId),
    layer: (cell: BestCell, _args: unknown, context: ApiContext) => context.loaders.layer.load(cell.layerId),
    scoreCount: (cell: BestCell) => cell.n,
  },
  Grid: {
    cellCount: (grid: GridResult) => grid.size,
  },
  GridCell: {
    scoreCount: (cell: GridCell) => cell.n,
  },
  ChanceLevel: {
    measuredScoreCount: (chance: GridResult['chance']) => chance.measuredN,
  },
  GridAxis: {
    // A POOLING axis value carries its pooling (the `Pooling` enum maps the stored name, its key).
    values: (axis: Axis) => (axis.dimension === 'POOLING' ? axis.values.map((value) => ({ ...value, pooling: value.key })) : axis.values),
  },
};
