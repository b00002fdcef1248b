// Grid, comparison and best-cell fields: validate (GridInputError → BAD_USER_INPUT naming the
// argument), run the grid SQL on the shared pool (src/db/grid.ts), shape the result. No Prisma
// in this path: one catalogue statement and one aggregation statement per request (none when the
// grid's probe runs are all completed and its rows are cached, see src/db/grid-cache.ts).
import type { ApiContext } from '../context.ts';
import { BadUserInputError } from '../errors.ts';
import { queryBestCells, queryComparison, queryGrid, type BestCell, type GridResult } from '../../db/grid.ts';
import {
  DEFAULT_MAX_GRID_CELLS,
  GridInputError,
  parseBestInput,
  parseCompareInput,
  parseGridInput,
  type RawBestInput,
  type RawCompareInput,
  type RawGridInput,
} from '../../db/grid-input.ts';
import type { GridCell } from '../../db/grid-dense.ts';
import { GridResultCache } from '../../db/grid-cache.ts';
import type { SummaryRow } from '../../db/grid.ts';

// One cache per database pool (a process may serve several databases, e.g. in tests).
const caches = new WeakMap<object, GridResultCache<SummaryRow[]>>();

export function gridCacheFor(pool: object): GridResultCache<SummaryRow[]> {
  let cache = caches.get(pool);
  if (!cache) caches.set(pool, (cache = new GridResultCache<SummaryRow[]>()));
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
  return (context.config.limits as { maxGridCells?: number }).maxGridCells ?? DEFAULT_MAX_GRID_CELLS;
}

function columns(cells: readonly GridCell[]) {
  return {
    n: cells.map((cell) => cell.n),
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
    async grid(_parent: unknown, args: { input: RawGridInput }, context: ApiContext) {
      const query = asBadInput(() => parseGridInput(args.input));
      return gridPayload(await asBadInputAsync(() => queryGrid(context.db.pool, query, { maxCells: maxCells(context), cache: gridCacheFor(context.db.pool) })));
    },
    async compareGrid(_parent: unknown, args: { input: RawCompareInput }, context: ApiContext) {
      const query = asBadInput(() => parseCompareInput(args.input));
      const result = await asBadInputAsync(() => queryComparison(context.db.pool, query, { maxCells: maxCells(context) }));
      return {
        ...result,
        cells: result.cells.map((cell) => ({
          index: cell.index,
          coordinates: cell.coordinates,
          leftMean: cell.left.mean,
          rightMean: cell.right.mean,
          difference: cell.difference,
          nLeft: cell.left.n,
          nRight: cell.right.n,
          ciLow: cell.ciLow,
          ciHigh: cell.ciHigh,
        })),
      };
    },
    async bestCells(_parent: unknown, args: { input: RawBestInput }, context: ApiContext) {
      const query = asBadInput(() => parseBestInput(args.input));
      return queryBestCells(context.db.pool, query);
    },
  },
  BestCell: {
    attributeGroup: (cell: BestCell, _args: unknown, context: ApiContext) => context.loaders.group.load(cell.attributeGroupId),
    attribute: (cell: BestCell, _args: unknown, context: ApiContext) =>
      cell.attributeId === null ? null : context.loaders.attribute.load(cell.attributeId),
    component: (cell: BestCell, _args: unknown, context: ApiContext) => context.loaders.component.load(cell.componentId),
    layer: (cell: BestCell, _args: unknown, context: ApiContext) => context.loaders.layer.load(cell.layerId),
  },
};
