// Hand-written SQL for the chart grid, comparisons and best cells. A grid request runs one
// catalogue statement for the axes (plus the fingerprint of the selected probe runs) and exactly
// one aggregation statement over probe_score ⋈ probe_cell, concurrently. The axes stay a separate
// statement: the dense grid is assembled from them in TypeScript (dense.ts) after its size
// is checked against the bound, whereas a dense cross product built in SQL would exist before the
// bound could refuse it; and the same axes query serves both sides of a comparison.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { compile, empty, identifier, join, sql, where, type SqlFragment } from './sql.ts';
import {
  DEFAULT_MAX_GRID_CELLS,
  GRID_METRICS,
  GridInputError,
  type BestQuery,
  type CompareQuery,
  type GridDimension,
  type GridFilter,
  type GridMetric,
  type GridQuery,
} from './input.ts';
import {
  assembleComparison,
  assembleDense,
  denseSize,
  mergeAxisValues,
  type AggregateRow,
  type Axis,
  type AxisValue,
  type ComparisonCell,
  type GridCell,
} from './dense.ts';
import { meanInterval } from './stats.ts';
import type { GridResultCache, RunFingerprint } from './cache.ts';
import { queryWithSignal } from './connections.ts';

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

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

export interface ComparisonResult {
  metric: GridMetric;
  groupBy: GridDimension[];
  axes: Axis[];
  size: number;
  cells: ComparisonCell[];
}

/**
 * Runs a statement as a named prepared statement (parsed and planned once per connection), for
 * the first few hundred distinct statement texts; rarer shapes run unnamed so that a client
 * sending ever-new shapes cannot grow every connection's prepared-statement cache without bound.
 */
const MAX_PREPARED_SHAPES = 256;
const preparedNames = new Map<string, string>();

export function run<R extends pg.QueryResultRow>(db: Queryable, statement: SqlFragment, signal?: AbortSignal): Promise<pg.QueryResult<R>> {
  const { text, values } = compile(statement);
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < MAX_PREPARED_SHAPES) {
    name = `grid_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  const config = name === undefined ? { text, values } : { name, text, values };
  return signal && isPool(db) ? queryWithSignal<R>(db, config, signal) : db.query<R>(config);
}

function isPool(db: Queryable): db is pg.Pool {
  return typeof (db as Partial<pg.Pool>).connect === 'function' && typeof (db as Partial<pg.Pool>).options === 'object';
}

// ───────────────────────────── filters as SQL conditions ─────────────────────────────

function intList(values: readonly number[]): SqlFragment {
  return sql`${values}::int[]`;
}

function timestepCondition(column: SqlFragment, timesteps: readonly (number | null)[]): SqlFragment {
  const values = timesteps.filter((timestep): timestep is number => timestep !== null);
  const withNone = values.length < timesteps.length;
  if (values.length === 0) return sql`${column} IS NULL`;
  const inList = sql`${column} = ANY(${intList(values)})`;
  return withNone ? sql`(${inList} OR ${column} IS NULL)` : inList;
}

/** Components with timesteps only match a timestep filter naming one; the others only `null`. */
function hasTimestepsCondition(column: SqlFragment, timesteps: readonly (number | null)[]): SqlFragment {
  const withNone = timesteps.includes(null);
  const withSome = timesteps.some((timestep) => timestep !== null);
  if (withNone && withSome) return sql`TRUE`;
  return withNone ? sql`NOT ${column}` : column;
}

/**
 * Conditions on score rows (aliases ps, pc). Filters on the catalogue (component kind, group
 * name…) become id lists computed once per statement (InitPlans: `ARRAY(SELECT …)`), so the
 * planner sees `pc.layer_id = ANY(…)` and `ps.attribute_id = ANY(…)` and can use the score and
 * cell indexes instead of joining every score to its component and group first (3× faster on
 * the benchmark heatmap).
 */
function scoreConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const f of filters) {
    const componentConditions: SqlFragment[] = [];
    if (f.componentKinds) componentConditions.push(sql`c.kind = ANY(${f.componentKinds}::"ComponentKind"[])`);
    if (f.componentIds) componentConditions.push(sql`c.id = ANY(${intList(f.componentIds)})`);
    if (componentConditions.length > 0) {
      conditions.push(sql`pc.layer_id = ANY(ARRAY(SELECT sl.id FROM layer sl JOIN component c ON c.id = sl.component_id ${where(componentConditions)}))`);
    }
    if (f.layerIds) conditions.push(sql`pc.layer_id = ANY(${intList(f.layerIds)})`);
    if (f.timesteps) conditions.push(timestepCondition(sql`pc.timestep`, f.timesteps));
    if (f.poolings) conditions.push(sql`pc.pooling = ANY(${f.poolings}::text[])`);
    const groupConditions: SqlFragment[] = [];
    if (f.attributeGroupNames) groupConditions.push(sql`ag.name = ANY(${f.attributeGroupNames}::text[])`);
    if (f.attributeGroupIds) groupConditions.push(sql`ag.id = ANY(${intList(f.attributeGroupIds)})`);
    if (groupConditions.length > 0) {
      conditions.push(sql`ps.attribute_id = ANY(ARRAY(SELECT sa.id FROM attribute sa JOIN attribute_group ag ON ag.id = sa.attribute_group_id ${where(groupConditions)}))`);
    }
    if (f.attributeIds) conditions.push(sql`ps.attribute_id = ANY(${intList(f.attributeIds)})`);
    if (f.probeRunIds) conditions.push(sql`pc.probe_run_id = ANY(${intList(f.probeRunIds)})`);
    if (f.extractionRunIds) {
      conditions.push(sql`pc.probe_run_id = ANY(ARRAY(SELECT pr.id FROM probe_run pr WHERE pr.extraction_run_id = ANY(${intList(f.extractionRunIds)})))`);
    }
  }
  return conditions;
}

function runConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const f of filters) {
    if (f.probeRunIds) conditions.push(sql`pr.id = ANY(${intList(f.probeRunIds)})`);
    if (f.extractionRunIds) conditions.push(sql`pr.extraction_run_id = ANY(${intList(f.extractionRunIds)})`);
  }
  return conditions;
}

/**
 * Identity and state of the probe runs a request selects, as one text ending in `|true` when all
 * are COMPLETED: the result cache's validity check (cache.ts). The axes statement and the
 * aggregation statement both compute it, each in its own snapshot, so cached rows are always
 * stored with the fingerprint of the very snapshot they were read from.
 */
function runFingerprint(filters: readonly GridFilter[]): SqlFragment {
  return sql`(SELECT coalesce(string_agg(pr.id || ':' || pr.settings_hash || ':' || pr.status || ':' || coalesce(pr.finished_at::text, ''), ',' ORDER BY pr.id), '')
      || '|' || coalesce(bool_and(pr.status = 'COMPLETED'), FALSE)::text
    FROM probe_run pr ${where(runConditions(filters))})`;
}

export function fingerprintOf(text: string | null | undefined): RunFingerprint {
  return { key: text ?? '', cacheable: text?.endsWith('|true') ?? false };
}

/**
 * The identity of a grid answer for a response cache: the run fingerprint and the axes as read
 * (catalogue ids, labels, timesteps); null unless every selected run is COMPLETED. Two requests
 * with the same input and the same token get the same answer: the scores of completed runs are
 * final and everything else in the answer comes from the axes.
 */
export function answerToken(axes: readonly Axis[], runs: RunFingerprint): string | null {
  return runs.cacheable ? `${runs.key}\n${JSON.stringify(axes)}` : null;
}

/** The current answer token of a grid query: one catalogue statement (the axes statement). */
export async function currentAnswerToken(db: Queryable, query: GridQuery): Promise<string | null> {
  const [{ axes, runs }] = (await fetchAxes(db, [{ dimensions: query.groupBy, filters: query.filters }])) as [ScopeAxes];
  return answerToken(axes, runs);
}

/** Conditions on a component row `c`, including "has one of the filtered layers". */
function componentConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const f of filters) {
    if (f.componentKinds) conditions.push(sql`c.kind = ANY(${f.componentKinds}::"ComponentKind"[])`);
    if (f.componentIds) conditions.push(sql`c.id = ANY(${intList(f.componentIds)})`);
    if (f.layerIds) {
      conditions.push(sql`EXISTS (SELECT 1 FROM layer fl WHERE fl.component_id = c.id AND fl.id = ANY(${intList(f.layerIds)}))`);
    }
    if (f.timesteps) conditions.push(hasTimestepsCondition(sql`c.has_timesteps`, f.timesteps));
  }
  return conditions;
}

function layerConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions = componentConditions(filters);
  for (const f of filters) if (f.layerIds) conditions.push(sql`l.id = ANY(${intList(f.layerIds)})`);
  return conditions;
}

/** Conditions on an attribute group row `ag`, including "has one of the filtered attributes". */
function groupConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const f of filters) {
    if (f.attributeGroupNames) conditions.push(sql`ag.name = ANY(${f.attributeGroupNames}::text[])`);
    if (f.attributeGroupIds) conditions.push(sql`ag.id = ANY(${intList(f.attributeGroupIds)})`);
    if (f.attributeIds) {
      conditions.push(sql`EXISTS (SELECT 1 FROM attribute fa WHERE fa.attribute_group_id = ag.id AND fa.id = ANY(${intList(f.attributeIds)}))`);
    }
  }
  return conditions;
}

function attributeConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions = groupConditions(filters);
  for (const f of filters) if (f.attributeIds) conditions.push(sql`a.id = ANY(${intList(f.attributeIds)})`);
  return conditions;
}

// ───────────────────────────── axes: one catalogue statement ─────────────────────────────

export interface AxisScope {
  dimensions: readonly GridDimension[];
  filters: readonly GridFilter[];
}

const DIMENSION_KEY: Record<GridDimension, SqlFragment> = {
  COMPONENT: sql`l.component_id`,
  LAYER: sql`pc.layer_id`,
  TIMESTEP: sql`pc.timestep`,
  POOLING: sql`pc.pooling`,
  ATTRIBUTE_GROUP: sql`a.attribute_group_id`,
  ATTRIBUTE: sql`ps.attribute_id`,
};

function axisSubquery(scope: number, dimension: GridDimension, runs: SqlFragment, filters: readonly GridFilter[]): SqlFragment {
  switch (dimension) {
    case 'COMPONENT':
      return sql`SELECT ${scope}::int AS scope, 'COMPONENT' AS dimension, c.id, NULL::int AS timestep,
          c.name AS label, ARRAY[c.model_id, c.position, c.id] AS sort
        FROM component c
        ${where([sql`c.model_id IN (SELECT model_id FROM ${runs})`, ...componentConditions(filters)])}`;
    case 'LAYER':
      return sql`SELECT ${scope}::int AS scope, 'LAYER' AS dimension, l.id, NULL::int AS timestep,
          c.name || '/' || l.name AS label, ARRAY[c.model_id, c.position, c.id, l.index] AS sort
        FROM layer l JOIN component c ON c.id = l.component_id
        ${where([sql`c.model_id IN (SELECT model_id FROM ${runs})`, ...layerConditions(filters)])}`;
    case 'TIMESTEP': {
      const conditions = [sql`pc.probe_run_id IN (SELECT id FROM ${runs})`, ...layerConditions(filters)];
      for (const f of filters) {
        if (f.timesteps) conditions.push(timestepCondition(sql`pc.timestep`, f.timesteps));
        if (f.poolings) conditions.push(sql`pc.pooling = ANY(${f.poolings}::text[])`);
      }
      // Denoising order: no timestep (text encoder) first, then from the noisiest timestep down.
      return sql`SELECT DISTINCT ${scope}::int AS scope, 'TIMESTEP' AS dimension, NULL::int AS id, pc.timestep,
          coalesce(pc.timestep::text, '—') AS label, ARRAY[(pc.timestep IS NOT NULL)::int, -coalesce(pc.timestep, 0)] AS sort
        FROM probe_cell pc JOIN layer l ON l.id = pc.layer_id JOIN component c ON c.id = l.component_id
        ${where(conditions)}`;
    }
    case 'POOLING': {
      const conditions = [sql`pc.probe_run_id IN (SELECT id FROM ${runs})`, ...layerConditions(filters)];
      for (const f of filters) {
        if (f.timesteps) conditions.push(timestepCondition(sql`pc.timestep`, f.timesteps));
        if (f.poolings) conditions.push(sql`pc.pooling = ANY(${f.poolings}::text[])`);
      }
      // Ordered by name: the axes statement sorts ties of `sort` by label.
      return sql`SELECT DISTINCT ${scope}::int AS scope, 'POOLING' AS dimension, NULL::int AS id, NULL::int AS timestep,
          pc.pooling AS label, ARRAY[]::int[] AS sort
        FROM probe_cell pc JOIN layer l ON l.id = pc.layer_id JOIN component c ON c.id = l.component_id
        ${where(conditions)}`;
    }
    case 'ATTRIBUTE_GROUP':
      return sql`SELECT ${scope}::int AS scope, 'ATTRIBUTE_GROUP' AS dimension, ag.id, NULL::int AS timestep,
          ag.name AS label, ARRAY[ag.norms_dataset_id, ag.position, ag.id] AS sort
        FROM attribute_group ag
        ${where([sql`ag.norms_dataset_id IN (SELECT norms_dataset_id FROM ${runs})`, ...groupConditions(filters)])}`;
    case 'ATTRIBUTE':
      return sql`SELECT ${scope}::int AS scope, 'ATTRIBUTE' AS dimension, a.id, NULL::int AS timestep,
          a.name AS label, ARRAY[ag.norms_dataset_id, ag.position, ag.id, a.position, a.id] AS sort
        FROM attribute a JOIN attribute_group ag ON ag.id = a.attribute_group_id
        ${where([sql`ag.norms_dataset_id IN (SELECT norms_dataset_id FROM ${runs})`, ...attributeConditions(filters)])}`;
  }
}

export function axesStatement(scopes: readonly AxisScope[]): SqlFragment {
  const ctes: SqlFragment[] = [];
  const parts: SqlFragment[] = [];
  scopes.forEach((scope, index) => {
    const runs = identifier(`runs_${index}`);
    ctes.push(sql`${runs} AS (
      SELECT pr.id, pr.norms_dataset_id, er.model_id
      FROM probe_run pr JOIN extraction_run er ON er.id = pr.extraction_run_id
      ${where(runConditions(scope.filters))})`);
    for (const dimension of scope.dimensions) parts.push(sql`(${axisSubquery(index, dimension, runs, scope.filters)})`);
    parts.push(sql`(SELECT ${index}::int AS scope, 'RUNS' AS dimension, NULL::int AS id, NULL::int AS timestep,
        ${runFingerprint(scope.filters)} AS label, ARRAY[]::int[] AS sort)`);
  });
  return sql`WITH ${join(ctes, ',\n')}
    SELECT * FROM (${join(parts, '\nUNION ALL\n')}) axes
    ORDER BY scope, dimension, sort, label`;
}

interface AxisRow {
  scope: number;
  dimension: GridDimension | 'RUNS';
  id: number | null;
  timestep: number | null;
  label: string;
  sort: number[];
}

export interface ScopeAxes {
  axes: Axis[];
  runs: RunFingerprint;
}

/** One statement: the axes of every scope, and the fingerprint of each scope's probe runs. */
export async function fetchAxes(db: Queryable, scopes: readonly AxisScope[], signal?: AbortSignal): Promise<ScopeAxes[]> {
  const result: ScopeAxes[] = scopes.map((scope) => ({
    axes: scope.dimensions.map((dimension): Axis => ({ dimension, values: [] })),
    runs: { key: '', cacheable: false },
  }));
  const { rows } = await run<AxisRow>(db, axesStatement(scopes), signal);
  for (const row of rows) {
    const scope = result[row.scope]!;
    if (row.dimension === 'RUNS') {
      scope.runs = fingerprintOf(row.label);
      continue;
    }
    const axis = scope.axes.find((candidate) => candidate.dimension === row.dimension)!;
    axis.values.push({
      index: axis.values.length,
      key: row.dimension === 'TIMESTEP' ? (row.timestep === null ? 'none' : String(row.timestep))
        : row.dimension === 'POOLING' ? row.label : String(row.id),
      label: row.label,
      id: row.id,
      timestep: row.timestep,
      sort: row.sort,
    });
  }
  return result;
}

// ───────────────────────────── the aggregation statement ─────────────────────────────

// Only the joins a key needs (layer for COMPONENT, attribute for ATTRIBUTE_GROUP); PostgreSQL drops
// an unused LEFT JOIN to a primary key, so a request pays only for what it groups by.
const SCORE_JOINS = sql`
  FROM probe_score ps
  JOIN probe_cell pc ON pc.id = ps.cell_id
  LEFT JOIN layer l ON l.id = pc.layer_id
  LEFT JOIN attribute a ON a.id = ps.attribute_id`;

function metricColumns(metric: GridMetric): { value: SqlFragment; control: SqlFragment } {
  const columns = GRID_METRICS[metric];
  return { value: identifier(`ps.${columns.column}`), control: identifier(`ps.${columns.nullColumn}`) };
}

function summaryColumns(metric: GridMetric): SqlFragment {
  const { value, control } = metricColumns(metric);
  return sql`count(${value})::int AS n, avg(${value}) AS mean, stddev_samp(${value}) AS sd,
    avg(${control}) AS null_mean, count(${control})::int AS null_n`;
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
  return sql`SELECT ${join(keyColumns, '')}${grouping}, ${summaryColumns(query.metric)}
    ${SCORE_JOINS}
    ${where(scoreConditions(query.filters))}
    ${groupBy}`;
}

export interface SummaryRow {
  n: number;
  mean: number | null;
  sd: number | null;
  null_mean: number | null;
  null_n: number;
  [key: string]: unknown;
}

function toAggregate(row: SummaryRow, dimensions: number): AggregateRow {
  const keys: (number | string | null)[] = [];
  for (let i = 0; i < dimensions; i++) keys.push((row[`k${i}`] as number | string | null | undefined) ?? null);
  return { keys, n: row.n, mean: row.mean, sd: row.sd, nullMean: row.null_mean, nullN: row.null_n };
}

function checkSize(axes: readonly Axis[], maxCells: number, argument: string): number {
  const size = denseSize(axes);
  if (size > maxCells) {
    const shape = axes.map((axis) => `${axis.values.length} ${axis.dimension}`).join(' × ');
    throw new GridInputError(argument, `must describe at most ${maxCells} cells; this dense grid would hold ${size} (${shape}). Narrow input.filter or group by fewer dimensions.`);
  }
  return size;
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

// ───────────────────────────── comparisons ─────────────────────────────

/** Both sides in one statement: side 0 (left) and side 1 (right), NULL keys where a side aggregates over a dimension. */
export function comparisonStatement(query: CompareQuery): SqlFragment {
  const side = (index: number, aggregateOver: readonly GridDimension[], filters: readonly GridFilter[]) => {
    const grouped = query.groupBy.filter((dimension) => !aggregateOver.includes(dimension));
    const keyColumns = query.groupBy.map((dimension, i) =>
      aggregateOver.includes(dimension)
        ? sql`NULL::${dimension === 'POOLING' ? sql`text` : sql`int`} AS ${identifier(`k${i}`)}, `
        : sql`${DIMENSION_KEY[dimension]} AS ${identifier(`k${i}`)}, `);
    const groupBy = grouped.length === 0 ? empty : sql`GROUP BY ${join(grouped.map((dimension) => DIMENSION_KEY[dimension]), ', ')}`;
    return sql`(SELECT ${index}::int AS side, ${join(keyColumns, '')}${summaryColumns(query.metric)}
      ${SCORE_JOINS}
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
  const { rows } = await aggregate();
  signal?.throwIfAborted();
  const dims = query.groupBy.length;
  const cells = size === 0 ? [] : assembleComparison(
    axes,
    query.left.aggregateOver,
    query.right.aggregateOver,
    rows.filter((row) => row.side === 0).map((row) => toAggregate(row, dims)),
    rows.filter((row) => row.side === 1).map((row) => toAggregate(row, dims)),
  );
  return { metric: query.metric, groupBy: query.groupBy, axes, size, cells };
}

// ───────────────────────────── best cells ─────────────────────────────

export interface BestCell {
  attributeGroupId: number;
  attributeGroupName: string;
  attributeId: number | null;
  attributeName: string | null;
  componentId: number;
  componentName: string;
  componentKind: string;
  layerId: number;
  layerName: string;
  layerIndex: number;
  timestep: number | null;
  pooling: string;
  mean: number;
  sd: number | null;
  n: number;
  ciLow: number | null;
  ciHigh: number | null;
}

/** One statement: per target, the (layer, timestep) with the highest mean (ties: more scores, then catalogue order). */
export function bestStatement(query: BestQuery): SqlFragment {
  const { value } = metricColumns(query.metric);
  const target = query.per === 'ATTRIBUTE' ? sql`ps.attribute_id` : sql`a.attribute_group_id`;
  const labels = query.per === 'ATTRIBUTE'
    ? sql`JOIN attribute ta ON ta.id = best.target_id JOIN attribute_group tg ON tg.id = ta.attribute_group_id`
    : sql`LEFT JOIN attribute ta ON FALSE JOIN attribute_group tg ON tg.id = best.target_id`;
  return sql`SELECT tg.id AS attribute_group_id, tg.name AS group_name, ta.id AS attribute_id, ta.name AS attribute_name,
      tc.id AS component_id, tc.name AS component_name, tc.kind::text AS component_kind,
      tl.id AS layer_id, tl.name AS layer_name, tl.index AS layer_index,
      best.timestep, best.pooling, best.mean, best.sd, best.n
    FROM (
      SELECT DISTINCT ON (${target}) ${target} AS target_id, pc.layer_id, pc.timestep, pc.pooling,
        avg(${value}) AS mean, stddev_samp(${value}) AS sd, count(${value})::int AS n
      ${SCORE_JOINS}
      ${where(scoreConditions(query.filters))}
      GROUP BY ${target}, pc.layer_id, pc.timestep, pc.pooling
      ORDER BY ${target}, avg(${value}) DESC, count(${value}) DESC, pc.layer_id, pc.timestep DESC NULLS FIRST, pc.pooling
    ) best
    JOIN layer tl ON tl.id = best.layer_id
    JOIN component tc ON tc.id = tl.component_id
    ${labels}
    ORDER BY tg.norms_dataset_id, tg.position, tg.id, ta.position NULLS FIRST, ta.id NULLS FIRST`;
}

interface BestRow {
  attribute_group_id: number;
  group_name: string;
  attribute_id: number | null;
  attribute_name: string | null;
  component_id: number;
  component_name: string;
  component_kind: string;
  layer_id: number;
  layer_name: string;
  layer_index: number;
  timestep: number | null;
  pooling: string;
  mean: number;
  sd: number | null;
  n: number;
}

export async function queryBestCells(db: Queryable, query: BestQuery, options: Pick<GridOptions, 'signal'> = {}): Promise<BestCell[]> {
  const { rows } = await run<BestRow>(db, bestStatement(query), options.signal);
  return rows.map((row) => {
    const interval = meanInterval(row.mean, row.sd, row.n);
    return {
      attributeGroupId: row.attribute_group_id,
      attributeGroupName: row.group_name,
      attributeId: row.attribute_id,
      attributeName: row.attribute_name,
      componentId: row.component_id,
      componentName: row.component_name,
      componentKind: row.component_kind,
      layerId: row.layer_id,
      layerName: row.layer_name,
      layerIndex: row.layer_index,
      timestep: row.timestep,
      pooling: row.pooling,
      mean: row.mean,
      sd: row.sd,
      n: row.n,
      ciLow: interval?.low ?? null,
      ciHigh: interval?.high ?? null,
    };
  });
}
