// The grid: one metric's scores summarised over the cross product of the requested dimensions,
// dense (every combination, empty cells included). A request runs the axes statement (axes.ts) and
// exactly one aggregation statement, concurrently unless a cache entry or a budget must be checked
// first. The axes stay a separate statement: the dense grid is assembled in TypeScript (dense.ts)
// after its size is checked against the bound, whereas a dense cross product built in SQL would
// exist before the bound could refuse it.
import { compile, empty, identifier, join, sql, where, type SqlFragment } from './sql.ts';
import { DEFAULT_MAX_GRID_CELLS, GRID_METRICS, type GridDimension, type GridMetric, type GridQuery } from './input.ts';
import { assembleDense, type Axis, type GridCell } from './dense.ts';
import { meanInterval } from './stats.ts';
import type { GridResultCache, RunFingerprint } from './cache.ts';
import { scoreConditions } from './filters.ts';
import { answerToken, fingerprintOf, runFingerprint } from './fingerprint.ts';
import { fetchAxes, type ScopeAxes } from './axes.ts';
import { checkSize, DIMENSION_KEY, sourceJoins, summaryColumns, toAggregate, type SummaryRow } from './aggregate.ts';
import { run, type Queryable } from './statement.ts';

export interface GridOptions {
  maxCells?: number;
  /** Reuses aggregation rows of completed probe runs (see cache.ts). */
  cache?: GridResultCache<SummaryRow[]>;
  /**
   * Stops the request: a wait for a connection ends, a running statement is cancelled on the server
   * (connections.ts), and no result is assembled. Only honoured when `db` is a pg Pool.
   */
  signal?: AbortSignal;
  /** Told the dense size once the axes are read, before the cells are built; throws to refuse it (a per-operation budget). */
  reserve?: (cells: number) => void;
  /**
   * Whether the aggregation may start before the axes are read (default true: lower latency). False
   * for the second and later grids of one operation, so a budget refusal comes before their aggregations run.
   */
  aggregateEarly?: boolean;
  /** compareGrid's paired test: its arithmetic bound in multiply-adds (default MAX_PAIRED_WORK, src/grid/paired.ts). */
  pairedMaxWork?: number;
}

export interface ChanceLevel {
  theoretical: number;
  /** Mean of the shuffled-ratings control (null_* columns) over the grid's scores; null if none stored. */
  measured: number | null;
  measuredN: number;
}

export interface GridResult {
  metric: GridMetric;
  groupBy: GridDimension[];
  axes: Axis[];
  size: number;
  cells: GridCell[];
  chance: ChanceLevel;
  /** All of the grid's scores pooled into one summary. */
  overall: GridCell;
  /**
   * What this answer was computed from (see `answerToken`), or null when a selected probe run is
   * not COMPLETED or the runs changed between the axes and the aggregation snapshots.
   */
  answerToken: string | null;
}

/** The current answer token of a grid query: one catalogue statement (the axes statement). */
export async function currentAnswerToken(db: Queryable, query: GridQuery): Promise<string | null> {
  const [{ axes, runs }] = (await fetchAxes(db, [{ dimensions: query.groupBy, filters: query.filters }])) as [ScopeAxes];
  return answerToken(axes, runs);
}

/**
 * Keys k0…k(n−1) in groupBy order, then a total flag from a second, empty grouping set; the total
 * row also carries the fingerprint of the selected probe runs (an InitPlan, evaluated once).
 */
export function gridStatement(query: GridQuery): SqlFragment {
  const keys = query.groupBy.map((dimension) => DIMENSION_KEY[dimension]);
  const keyColumns = keys.map((key, i) => sql`${key} AS ${identifier(`k${i}`)}, `);
  const grouping = keys.length === 0
    ? sql`TRUE AS total, ${runFingerprint(query.filters)} AS runs`
    : sql`GROUPING(${join(keys, ', ')}) <> 0 AS total,
      CASE WHEN GROUPING(${join(keys, ', ')}) <> 0 THEN ${runFingerprint(query.filters)} END AS runs`;
  const groupBy = keys.length === 0 ? empty : sql`GROUP BY GROUPING SETS ((${join(keys, ', ')}), ())`;
  return sql`SELECT ${join(keyColumns, '')}${grouping}, ${summaryColumns(query)}
    ${sourceJoins(query.metric)}
    ${where(scoreConditions(query.filters))}
    ${groupBy}`;
}

export async function queryGrid(db: Queryable, query: GridQuery, options: GridOptions = {}): Promise<GridResult> {
  const statement = gridStatement(query);
  const cache = options.cache;
  const cacheKey = cache ? JSON.stringify(compile(statement)) : '';
  // Nothing cached: the aggregation need not wait for the axes, both statements run at once (two
  // pool connections). Something cached: the axes' run fingerprint first decides whether it holds.
  const { signal } = options;
  const early = cache?.has(cacheKey) || options.aggregateEarly === false ? undefined : run<SummaryRow>(db, statement, signal);
  early?.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  let axes: Axis[];
  let runs: RunFingerprint;
  let size: number;
  let rows: SummaryRow[] | undefined;
  // The runs as of the rows' snapshot: a cache hit was just checked against `runs`.
  let rowsRuns: RunFingerprint;
  try {
    [{ axes, runs }] = (await fetchAxes(db, [{ dimensions: query.groupBy, filters: query.filters }], signal)) as [ScopeAxes];
    size = checkSize(axes, options.maxCells ?? DEFAULT_MAX_GRID_CELLS, 'input.groupBy');
    options.reserve?.(size);
    rows = early ? undefined : cache?.get(cacheKey, runs);
    rowsRuns = runs;
    if (!rows) {
      rows = (await (early ?? run<SummaryRow>(db, statement, signal))).rows;
      const total = rows.find((row) => row.total === true);
      rowsRuns = fingerprintOf(total?.runs as string | undefined);
      cache?.set(cacheKey, rowsRuns, rows);
    }
  } finally {
    // No statement of this call outlives it (a refused or cancelled grid waits for its aggregation to stop).
    await early?.catch(() => {});
  }
  signal?.throwIfAborted();
  const totalRow = rows.find((row) => row.total === true);
  // With no groupBy the single row is both the only cell and the total.
  const cellRows = query.groupBy.length === 0 ? rows : rows.filter((row) => row.total !== true);
  const cells = size === 0 ? [] : assembleDense(axes, cellRows.map((row) => toAggregate(row, query.groupBy.length)));
  const total = totalRow ? toAggregate(totalRow, 0) : { keys: [], n: 0, mean: null, sd: null, nullMean: null, nullN: 0 };
  const interval = meanInterval(total.mean, total.sd, total.n);
  return {
    metric: query.metric,
    groupBy: query.groupBy,
    axes,
    size,
    cells,
    chance: {
      theoretical: GRID_METRICS[query.metric].theoreticalChance,
      measured: total.nullN > 0 ? total.nullMean : null,
      measuredN: total.nullN,
    },
    overall: {
      index: 0, coordinates: [], n: total.n, mean: total.mean, sd: total.sd,
      ciLow: interval?.low ?? null, ciHigh: interval?.high ?? null, nullMean: total.nullMean,
    },
    answerToken: rowsRuns.key === runs.key ? answerToken(axes, runs) : null,
  };
}
