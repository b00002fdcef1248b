// The aggregation over probe_score ⋈ probe_cell that grids, comparisons and best cells share: the
// grouping key of each dimension, the joins, the summary columns of a metric, how a summary row
// becomes an aggregate, and the bound on a dense grid's size checked before any cell is built.
import { identifier, sql, type SqlFragment } from './sql.ts';
import { DEFAULT_SIGNIFICANCE_LEVEL, GRID_METRICS, GridInputError, isCellMetric, type GridDimension, type GridMetric } from './input.ts';
import { denseSize, type AggregateRow, type Axis } from './dense.ts';

export const DIMENSION_KEY: Record<GridDimension, SqlFragment> = {
  COMPONENT: sql`l.component_id`,
  LAYER: sql`pc.layer_id`,
  TIMESTEP: sql`pc.timestep`,
  POOLING: sql`pc.pooling`,
  ATTRIBUTE_GROUP: sql`a.attribute_group_id`,
  ATTRIBUTE: sql`ps.attribute_id`,
};

// Only the joins a key needs (layer for COMPONENT, attribute for ATTRIBUTE_GROUP); PostgreSQL drops
// an unused LEFT JOIN to a primary key, so a request pays only for what it groups by.
export const SCORE_JOINS = sql`
  FROM probe_score ps
  JOIN probe_cell pc ON pc.id = ps.cell_id
  LEFT JOIN layer l ON l.id = pc.layer_id
  LEFT JOIN attribute a ON a.id = ps.attribute_id`;

// A cell-level metric (ATTRIBUTE_RSA…) reads probe_cell alone: one row per cell, no attribute join.
// Its requests never group by or filter on attributes (input.ts refuses them), so the score
// conditions they get never mention `ps` or `a`.
export const CELL_JOINS = sql`
  FROM probe_cell pc
  LEFT JOIN layer l ON l.id = pc.layer_id`;

/** The FROM clause a metric aggregates over: score rows, or cell rows for a cell-level metric. */
export function sourceJoins(metric: GridMetric): SqlFragment {
  return isCellMetric(metric) ? CELL_JOINS : SCORE_JOINS;
}

/** What a query aggregates: its metric and, for SIGNIFICANT_SHARE, the q-value level. */
export interface MetricChoice {
  metric: GridMetric;
  significanceLevel?: number;
}

/**
 * The value aggregated per row and its shuffled-ratings control (NULL where none is stored).
 * SIGNIFICANT_SHARE is the indicator q < level (NULL where no q-value is stored, e.g. a run
 * without permutations), so its mean is the share of the cell's scores that are significant.
 */
export function metricColumns(choice: MetricChoice): { value: SqlFragment; control: SqlFragment } {
  const columns = GRID_METRICS[choice.metric];
  const table = columns.scope === 'cell' ? 'pc' : 'ps';
  const column = identifier(`${table}.${columns.column}`);
  const value = choice.metric === 'SIGNIFICANT_SHARE'
    ? sql`(${column} < ${choice.significanceLevel ?? DEFAULT_SIGNIFICANCE_LEVEL}::float8)::int::float8`
    : column;
  const control = columns.nullColumn === null ? sql`NULL::float8` : identifier(`${table}.${columns.nullColumn}`);
  return { value, control };
}

export function summaryColumns(choice: MetricChoice): SqlFragment {
  const { value, control } = metricColumns(choice);
  return sql`count(${value})::int AS n, avg(${value}) AS mean, stddev_samp(${value}) AS sd,
    avg(${control}) AS null_mean, count(${control})::int AS null_n`;
}

export interface SummaryRow {
  n: number;
  mean: number | null;
  sd: number | null;
  null_mean: number | null;
  null_n: number;
  [key: string]: unknown;
}

export function toAggregate(row: SummaryRow, dimensions: number): AggregateRow {
  const keys: (number | string | null)[] = [];
  for (let i = 0; i < dimensions; i++) keys.push((row[`k${i}`] as number | string | null | undefined) ?? null);
  return { keys, n: row.n, mean: row.mean, sd: row.sd, nullMean: row.null_mean, nullN: row.null_n };
}

export function checkSize(axes: readonly Axis[], maxCells: number, argument: string): number {
  const size = denseSize(axes);
  if (size > maxCells) {
    const shape = axes.map((axis) => `${axis.values.length} ${axis.dimension}`).join(' × ');
    throw new GridInputError(argument, `must describe at most ${maxCells} cells; this dense grid would hold ${size} (${shape}). Narrow input.filter or group by fewer dimensions.`);
  }
  return size;
}
