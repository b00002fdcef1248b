// Comparisons: two grids (left and right filters, each possibly aggregated over some dimensions) on
// the same merged axes, with their difference and its Welch interval. Both sides' aggregations are
// one statement, as are both sides' axes.
import type pg from 'pg';
import { empty, identifier, join, sql, where, type SqlFragment } from './sql.ts';
import { DEFAULT_MAX_GRID_CELLS, type CompareQuery, type GridDimension, type GridFilter, type GridMetric } from './input.ts';
import { assembleComparison, coordinatesOf, mergeAxisValues, type Axis, type AxisValue, type ComparisonCell } from './dense.ts';
import { pairedCells, type PairedCell } from './paired.ts';
import { scoreConditions } from './filters.ts';
import { fetchAxes, type ScopeAxes } from './axes.ts';
import { checkSize, DIMENSION_KEY, sourceJoins, summaryColumns, toAggregate, type SummaryRow } from './aggregate.ts';
import { run, type Queryable } from './statement.ts';
import type { GridOptions } from './grid.ts';

export interface ComparisonResult {
  metric: GridMetric;
  groupBy: GridDimension[];
  axes: Axis[];
  size: number;
  cells: ComparisonCell[];
  /** Per cell (same order), the paired test when `query.paired` asked for it; null where a side has no score. Null when not asked. */
  paired: (PairedCell | null)[] | null;
}

/** Both sides in one statement: side 0 (left) and side 1 (right), NULL keys where a side aggregates over a dimension. */
export function comparisonStatement(query: CompareQuery): SqlFragment {
  const side = (index: number, aggregateOver: readonly GridDimension[], filters: readonly GridFilter[]) => {
    const grouped = query.groupBy.filter((dimension) => !aggregateOver.includes(dimension));
    const keyColumns = query.groupBy.map((dimension, i) =>
      aggregateOver.includes(dimension)
        ? sql`NULL::${dimension === 'POOLING' ? sql`text` : sql`int`} AS ${identifier(`k${i}`)}, `
        : sql`${DIMENSION_KEY[dimension]} AS ${identifier(`k${i}`)}, `);
    const groupBy = grouped.length === 0 ? empty : sql`GROUP BY ${join(grouped.map((dimension) => DIMENSION_KEY[dimension]), ', ')}`;
    return sql`(SELECT ${index}::int AS side, ${join(keyColumns, '')}${summaryColumns(query)}
      ${sourceJoins(query.metric)}
      ${where(scoreConditions(filters))}
      ${groupBy})`;
  };
  return sql`${side(0, query.left.aggregateOver, query.left.filters)}
    UNION ALL
    ${side(1, query.right.aggregateOver, query.right.filters)}`;
}

export async function queryComparison(db: Queryable, query: CompareQuery, options: GridOptions = {}): Promise<ComparisonResult> {
  // Both statements at once, as for the grid (unless told to read the axes first).
  let aggregation: Promise<pg.QueryResult<SummaryRow & { side: number }>> | undefined;
  const aggregate = () => {
    if (!aggregation) {
      aggregation = run<SummaryRow & { side: number }>(db, comparisonStatement(query), options.signal);
      aggregation.catch(() => {}); // awaited by compareWith; this only keeps an early failure from going unhandled
    }
    return aggregation;
  };
  if (options.aggregateEarly !== false) aggregate();
  try {
    return await compareWith(db, query, options, aggregate);
  } finally {
    await aggregation?.catch(() => {}); // no statement outlives the call
  }
}

async function compareWith(
  db: Queryable,
  query: CompareQuery,
  options: GridOptions,
  aggregate: () => Promise<pg.QueryResult<SummaryRow & { side: number }>>,
): Promise<ComparisonResult> {
  const { signal } = options;
  const [{ axes: leftAxes }, { axes: rightAxes }] = (await fetchAxes(db, [
    { dimensions: query.groupBy.filter((d) => !query.left.aggregateOver.includes(d)), filters: query.left.filters },
    { dimensions: query.groupBy.filter((d) => !query.right.aggregateOver.includes(d)), filters: query.right.filters },
  ], signal)) as [ScopeAxes, ScopeAxes];
  const axes: Axis[] = query.groupBy.map((dimension) => {
    const left = leftAxes.find((axis) => axis.dimension === dimension)?.values;
    const right = rightAxes.find((axis) => axis.dimension === dimension)?.values;
    const values: AxisValue[] = left && right ? mergeAxisValues(left, right) : (left ?? right ?? []).map((value, index) => ({ ...value, index }));
    return { dimension, values };
  });
  const size = checkSize(axes, options.maxCells ?? DEFAULT_MAX_GRID_CELLS, 'input.groupBy');
  options.reserve?.(size);
  // The paired test's statement (when asked) runs beside the aggregation, once the size is accepted.
  const lengths = axes.map((axis) => axis.values.length);
  const paired = query.paired && size > 0
    ? pairedCells(db, { ...query, paired: query.paired }, axes, Array.from({ length: size }, (_, i) => coordinatesOf(i, lengths)), { signal, maxWork: options.pairedMaxWork })
    : undefined;
  paired?.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  let rows: (SummaryRow & { side: number })[];
  try {
    ({ rows } = await aggregate());
  } finally {
    await paired?.catch(() => {}); // no statement outlives the call
  }
  signal?.throwIfAborted();
  const dims = query.groupBy.length;
  const cells = size === 0 ? [] : assembleComparison(
    axes,
    query.left.aggregateOver,
    query.right.aggregateOver,
    rows.filter((row) => row.side === 0).map((row) => toAggregate(row, dims)),
    rows.filter((row) => row.side === 1).map((row) => toAggregate(row, dims)),
  );
  return { metric: query.metric, groupBy: query.groupBy, axes, size, cells, paired: query.paired ? (paired ? await paired : []) : null };
}
