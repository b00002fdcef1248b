// Grid, comparison and best-cell fields: validate (GridInputError → BAD_USER_INPUT naming the
// argument), run the grid SQL on the shared pool (src/grid/grid.ts), shape the result. No Prisma
// in this path: one catalogue statement and one aggregation statement per request (none when the
// grid's probe runs are all completed and its rows are cached, see src/grid/cache.ts). The grid
// code speaks statistics (`n`, `size`); the API's names (`scoreCount`, `cellCount`) are given here.
// The grid response cache that may answer a repeated request before these run is a server plugin
// (src/graphql/plugins/grid-response-cache.ts); the grid resolver tells it what it answered.
import type { GraphQLResolveInfo } from 'graphql';
import type { ApiContext } from '../context.ts';
import type { Resolvers } from '../generated/resolvers-types.ts';
import { related } from './lookup.ts';
import { bytesPerCell } from '../limits/response-size.ts';
import { maxGridCells, outageBeforeExecution, recordGridAnswer } from '../plugins/grid-response-cache.ts';
import { BadUserInputError } from '../errors.ts';
import {
  GridInputError,
  GridResultCache,
  parseBestInput,
  parseCompareInput,
  parseGridInput,
  queryBestCells,
  queryComparison,
  queryGrid,
  type GridCell,
  type GridResult,
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

export const gridResolvers = {
  Query: {
    async grid(_parent, args, context, info) {
      const outage = outageBeforeExecution(context);
      if (outage) throw outage;
      const query = asBadInput(() => parseGridInput(args.input));
      const result = await context.operation.run(() =>
        asBadInputAsync(() => queryGrid(context.db.pool, query, { maxCells: maxGridCells(context), cache: gridCacheFor(context.db.pool), ...budget(context, info, query.groupBy.length) })));
      recordGridAnswer(context, query, result.answerToken);
      return gridPayload(result);
    },
    async compareGrid(_parent, args, context, info) {
      const query = asBadInput(() => parseCompareInput(args.input));
      const result = await context.operation.run(() =>
        asBadInputAsync(() => queryComparison(context.db.pool, query, { maxCells: maxGridCells(context), ...budget(context, info, query.groupBy.length) })));
      return {
        ...result,
        cellCount: result.size,
        cells: result.cells.map((cell, i) => ({
          index: cell.index,
          coordinates: cell.coordinates,
          leftMean: cell.left.mean,
          rightMean: cell.right.mean,
          difference: cell.difference,
          leftScoreCount: cell.left.n,
          rightScoreCount: cell.right.n,
          ciLow: cell.ciLow,
          ciHigh: cell.ciHigh,
          // The paired test beside the descriptive interval (src/grid/paired.ts), when asked for.
          pairedDifference: result.paired?.[i]?.difference ?? null,
          pairedCiLow: result.paired?.[i]?.ciLow ?? null,
          pairedCiHigh: result.paired?.[i]?.ciHigh ?? null,
          pairedPValue: result.paired?.[i]?.pValue ?? null,
          pairedConceptCount: result.paired?.[i]?.conceptCount ?? null,
        })),
      };
    },
    async bestCells(_parent, args, context, info) {
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
    attributeGroup: (cell, _args, context) => related(context.loaders.attributeGroup, cell.attributeGroupId, 'attribute group'),
    attribute: (cell, _args, context) =>
      cell.attributeId === null ? null : context.loaders.attribute.load(cell.attributeId),
    component: (cell, _args, context) => related(context.loaders.component, cell.componentId, 'component'),
    layer: (cell, _args, context) => related(context.loaders.layer, cell.layerId, 'layer'),
    scoreCount: (cell) => cell.n,
  },
  Grid: {
    cellCount: (grid) => grid.size,
  },
  GridCell: {
    scoreCount: (cell) => cell.n,
  },
  ChanceLevel: {
    measuredScoreCount: (chance) => chance.measuredN,
  },
  GridAxis: {
    // A POOLING axis value carries its pooling (the `Pooling` enum maps the stored name, its key).
    values: (axis) => (axis.dimension === 'POOLING' ? axis.values.map((value) => ({ ...value, pooling: value.key })) : axis.values),
  },
} satisfies Resolvers;
