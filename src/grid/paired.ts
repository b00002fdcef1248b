// compareGrid's paired test (issue 10 item 4): per comparison cell, the difference of the two sides'
// mean metric recomputed from the cells' stored out-of-fold predictions (probe_cell_prediction) and
// the ratings, with a paired bootstrap interval over concepts and a permutation p-value
// (src/probes/paired.ts). The descriptive Welch interval treats scores as independent draws; this
// one pairs them by concept, which is what "is this layer better than that block" asks.
//
// One statement reads everything (the units — which probe cell scores which attributes on which side
// of which comparison cell, exactly the scores the descriptive means average — the predictions of
// those probe cells, the ratings of their attributes and concepts, and the size of it all); the
// predictions and ratings only come when they fit the byte bound, so an oversized request is refused
// from the size row before anything large is read. The arithmetic is bounded too (`maxWork`), and
// yields to the event loop between comparison cells so that one request does not hold the process.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { identifier, join, sql, where, type SqlFragment } from './sql.ts';
import { GridInputError, type CompareQuery, type GridDimension, type GridFilter, type PairedSettings } from './input.ts';
import { axisKey, type Axis } from './dense.ts';
import { scoreConditions } from './filters.ts';
import { DIMENSION_KEY, SCORE_JOINS } from './aggregate.ts';
import { run, type Queryable } from './statement.ts';
import { unpackMatrix } from '../db/cell-matrices.ts';
import { pairedComparison, type PairedMetric } from '../probes/paired.ts';

/** Bytes of stored predictions one paired request may read (the largest Binder cell is ~75 kB, a 2,500-attribute one ~5 MB). */
export const MAX_PAIRED_PREDICTION_BYTES = 64 * 1024 * 1024;
/** Multiply-adds one paired request may spend: (replicates + permutations + 1) × cells × attributes × concepts, summed (~10 ns each on the 2-core machine: ≤ ~2 s). Full Binder (65 attributes, 275 concepts), one cell a side, 1000 + 1000: 7.2·10⁷. */
export const MAX_PAIRED_WORK = 200_000_000;

export interface PairedCell {
  /** leftMean − rightMean recomputed from the predictions (equals the stored scores' difference to float32 precision); null when undefined (no variance). */
  difference: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  pValue: number | null;
  conceptCount: number;
}

export interface PairedOptions {
  signal?: AbortSignal;
  maxBytes?: number;
  maxWork?: number;
}

const keyType = (dimension: GridDimension) => (dimension === 'POOLING' ? sql`text` : sql`int`);

/** Both sides' units, the budget, missing predictions, the predictions and the ratings, as one statement. */
export function pairedStatement(query: CompareQuery, maxBytes: number): SqlFragment {
  const keys = query.groupBy.map((_dimension, i) => identifier(`k${i}`));
  const side = (index: number, aggregateOver: readonly GridDimension[], filters: readonly GridFilter[]) => {
    const keyColumns = query.groupBy.map((dimension, i) =>
      aggregateOver.includes(dimension)
        ? sql`NULL::${keyType(dimension)} AS ${keys[i]!}, `
        : sql`${DIMENSION_KEY[dimension]} AS ${keys[i]!}, `);
    return sql`(SELECT ${index}::int AS side, ${join(keyColumns, '')}ps.cell_id, ps.attribute_id
      ${SCORE_JOINS}
      ${where(scoreConditions(filters))})`;
  };
  const nullKeys = join(query.groupBy.map((dimension, i) => sql`NULL::${keyType(dimension)} AS ${keys[i]!}, `), '');
  const keyList = join(keys.map((key) => sql`${key}, `), '');
  return sql`WITH units AS (
      ${side(0, query.left.aggregateOver, query.left.filters)}
      UNION ALL
      ${side(1, query.right.aggregateOver, query.right.filters)}),
    cells AS (SELECT DISTINCT cell_id FROM units),
    stored AS (SELECT pp.cell_id, pp.concept_ids, pp.attribute_ids, pp.data FROM probe_cell_prediction pp WHERE pp.cell_id IN (SELECT cell_id FROM cells)),
    budget AS (SELECT (SELECT count(*) FROM cells)::int AS cell_count, count(*)::int AS stored_count,
      coalesce(sum(octet_length(data)), 0)::bigint AS bytes FROM stored),
    fits AS (SELECT bytes <= ${maxBytes}::bigint AS ok FROM budget)
    SELECT 'budget' AS kind, NULL::int AS side, ${nullKeys}NULL::int AS cell_id, NULL::int[] AS attribute_ids, NULL::int[] AS concept_ids,
      NULL::bytea AS data, NULL::float8[] AS ratings, NULL::text AS label, cell_count, stored_count, bytes FROM budget
    UNION ALL
    SELECT 'unit', side, ${keyList}cell_id, array_agg(attribute_id ORDER BY attribute_id), NULL, NULL, NULL, NULL, NULL, NULL, NULL
      FROM units GROUP BY side, ${keyList}cell_id
    UNION ALL
    SELECT 'missing', NULL, ${nullKeys}pc.id, NULL, NULL, NULL, NULL,
      mc.name || '/' || ml.name || ', timestep ' || coalesce(pc.timestep::text, 'none') || ', pooling ' || pc.pooling || ', probe run ' || pc.probe_run_id,
      NULL, NULL, NULL
      FROM probe_cell pc JOIN layer ml ON ml.id = pc.layer_id JOIN component mc ON mc.id = ml.component_id
      WHERE pc.id IN (SELECT cell_id FROM cells) AND pc.id NOT IN (SELECT cell_id FROM stored)
    UNION ALL
    SELECT 'cell', NULL, ${nullKeys}cell_id, attribute_ids, concept_ids, data, NULL, NULL, NULL, NULL, NULL
      FROM stored WHERE (SELECT ok FROM fits)
    UNION ALL
    SELECT 'rating', NULL, ${nullKeys}r.attribute_id, NULL, array_agg(r.concept_id ORDER BY r.concept_id), NULL, array_agg(r.value ORDER BY r.concept_id), NULL, NULL, NULL, NULL
      FROM rating r
      WHERE (SELECT ok FROM fits) AND r.attribute_id IN (SELECT attribute_id FROM units)
        AND r.concept_id IN (SELECT DISTINCT unnest(concept_ids) FROM stored)
      GROUP BY r.attribute_id`;
}

/** One row of the paired statement; a 'rating' row carries its attribute id in `cell_id`. */
interface PairedRow {
  kind: 'budget' | 'unit' | 'missing' | 'cell' | 'rating';
  side: number | null;
  cell_id: number | null;
  attribute_ids: number[] | null;
  concept_ids: number[] | null;
  data: Buffer | null;
  ratings: number[] | null;
  label: string | null;
  cell_count: number | null;
  stored_count: number | null;
  bytes: string | number | null;
  [key: string]: unknown;
}

interface StoredCell {
  conceptIds: number[];
  attributeIds: number[];
  values: Float32Array;
}

const ARGUMENT = 'input.paired';

/** The key of a side's row on the comparison's axes ('*' where that side aggregates over the dimension), as dense.ts matches them. */
function sideKey(axes: readonly Axis[], aggregateOver: readonly GridDimension[], keyOn: (axis: number) => string): string {
  return axes.map((axis, i) => (aggregateOver.includes(axis.dimension) ? '*' : keyOn(i))).join('|');
}

/**
 * Reads what the paired test needs in one statement and runs it for every comparison cell where
 * both sides have scores; `cellKeys[i]` is the axis keys of comparison cell i. Refuses (naming
 * input.paired) missing predictions, different concept or attribute sets and requests over budget.
 */
export async function pairedCells(
  db: Queryable,
  query: CompareQuery & { paired: PairedSettings },
  axes: readonly Axis[],
  cellCoordinates: readonly number[][],
  options: PairedOptions = {},
): Promise<(PairedCell | null)[]> {
  const maxBytes = options.maxBytes ?? MAX_PAIRED_PREDICTION_BYTES;
  const maxWork = options.maxWork ?? MAX_PAIRED_WORK;
  const { rows } = await run<PairedRow>(db, pairedStatement(query, maxBytes), options.signal);
  options.signal?.throwIfAborted();
  const budget = rows.find((row) => row.kind === 'budget')!;
  const missing = rows.filter((row) => row.kind === 'missing');
  if (missing.length > 0) {
    const listed = missing.slice(0, 5).map((row) => `${row.cell_id} (${row.label})`).join('; ');
    throw new GridInputError(ARGUMENT, `needs the stored out-of-fold predictions of every probe cell compared, and ${missing.length} of ${budget.cell_count} have none (written before predictions were stored): probe cell ${listed}${missing.length > 5 ? '; …' : ''}. Run \`npm run probe\` again with the same settings (method ridge-loo/v2 is a new probe run that stores them), or leave out paired.`);
  }
  if (Number(budget.bytes) > maxBytes) {
    throw new GridInputError(ARGUMENT, `would read ${Number(budget.bytes)} bytes of stored predictions (${budget.cell_count} probe cells), more than the ${maxBytes} one request may; narrow input.filter.`);
  }
  const stored = new Map<number, StoredCell>();
  for (const row of rows) {
    if (row.kind !== 'cell') continue;
    stored.set(row.cell_id!, {
      conceptIds: row.concept_ids!,
      attributeIds: row.attribute_ids!,
      values: unpackMatrix(row.data!, row.concept_ids!.length, row.attribute_ids!.length, `probe_cell_prediction (cell ${row.cell_id})`),
    });
  }
  const ratings = new Map<number, Map<number, number>>();
  for (const row of rows) {
    if (row.kind !== 'rating') continue;
    ratings.set(row.cell_id!, new Map(row.concept_ids!.map((concept, i) => [concept, row.ratings![i]!])));
  }
  // Units per side and key: probe cell → the attributes it scores there.
  const units = [new Map<string, Map<number, number[]>>(), new Map<string, Map<number, number[]>>()];
  for (const row of rows) {
    if (row.kind !== 'unit') continue;
    const aggregateOver = row.side === 0 ? query.left.aggregateOver : query.right.aggregateOver;
    const key = sideKey(axes, aggregateOver, (i) => axisKey(axes[i]!.dimension, (row[`k${i}`] as number | string | null | undefined) ?? null));
    const byCell = units[row.side!]!.get(key) ?? new Map<number, number[]>();
    byCell.set(row.cell_id!, row.attribute_ids!);
    units[row.side!]!.set(key, byCell);
  }

  // Work before any arithmetic: refuse a request over the bound with its figure.
  const { bootstrapCount, permutationCount, seed } = query.paired;
  const plans = cellCoordinates.map((coordinates) => {
    const keyOn = (i: number) => axes[i]!.values[coordinates[i]!]!.key;
    const left = units[0]!.get(sideKey(axes, query.left.aggregateOver, keyOn));
    const right = units[1]!.get(sideKey(axes, query.right.aggregateOver, keyOn));
    return left && right ? { left, right } : null;
  });
  let work = 0;
  for (const plan of plans) {
    if (!plan) continue;
    const cells = [...plan.left.keys(), ...plan.right.keys()];
    const first = stored.get(cells[0]!)!;
    work += (bootstrapCount + permutationCount + 1) * cells.length * plan.left.values().next().value!.length * first.conceptIds.length;
  }
  if (work > maxWork) {
    throw new GridInputError(ARGUMENT, `would take about ${work.toExponential(2)} multiply-adds (bootstrapCount ${bootstrapCount} + permutationCount ${permutationCount}, over ${plans.filter(Boolean).length} comparison cells), more than the ${maxWork.toExponential(0)} one request may; ask for fewer replicates or narrow input.filter.`);
  }

  const metric: PairedMetric = query.metric === 'R2' ? 'r2' : 'pearson_r';
  const results: (PairedCell | null)[] = [];
  for (const plan of plans) {
    if (!plan) {
      results.push(null);
      continue;
    }
    await yieldToEventLoop();
    options.signal?.throwIfAborted();
    results.push(compute(plan.left, plan.right, stored, ratings, metric, query.paired));
  }
  return results;
}

function describeSet(values: readonly number[]): string {
  return `${values.length} (${values.slice(0, 5).join(', ')}${values.length > 5 ? ', …' : ''})`;
}

function compute(
  left: Map<number, number[]>,
  right: Map<number, number[]>,
  stored: Map<number, StoredCell>,
  ratings: Map<number, Map<number, number>>,
  metric: PairedMetric,
  settings: PairedSettings,
): PairedCell {
  const cellIds = [...left.keys(), ...right.keys()];
  const reference = cellIds[0]!;
  const attributes = [...left.get(reference) ?? right.get(reference)!];
  const concepts = [...stored.get(reference)!.conceptIds].sort((a, b) => a - b);
  const conceptKey = concepts.join(',');
  const attributeKey = attributes.join(',');
  for (const [side, units] of [['left', left], ['right', right]] as const) {
    for (const [cellId, cellAttributes] of units) {
      if (cellAttributes.join(',') !== attributeKey) {
        throw new GridInputError(ARGUMENT, `compares the same attributes on both sides, but probe cell ${cellId} (${side}) scores attributes ${describeSet(cellAttributes)} and probe cell ${reference} scores ${describeSet(attributes)} in the same comparison cell; group by ATTRIBUTE_GROUP or ATTRIBUTE, or filter both sides to the same attributes.`);
      }
      const cellConcepts = [...stored.get(cellId)!.conceptIds].sort((a, b) => a - b);
      if (cellConcepts.join(',') !== conceptKey) {
        throw new GridInputError(ARGUMENT, `pairs the two selections over the same concepts, but probe cell ${cellId} (${side}) was fitted on ${cellConcepts.length} concepts and probe cell ${reference} on ${concepts.length}, not the same set; compare cells of probe runs over the same concepts.`);
      }
    }
  }
  const n = concepts.length;
  const m = attributes.length;
  const truth = new Float64Array(n * m);
  attributes.forEach((attribute, a) => {
    const byConcept = ratings.get(attribute);
    concepts.forEach((concept, i) => {
      const value = byConcept?.get(concept);
      if (value === undefined) {
        throw new GridInputError(ARGUMENT, `needs the rating of every compared attribute for every concept, and attribute ${attribute} has none for concept ${concept}.`);
      }
      truth[i * m + a] = value;
    });
  });
  const matrix = (cellId: number) => {
    const cell = stored.get(cellId)!;
    const rowOf = new Map(cell.conceptIds.map((concept, i) => [concept, i]));
    const columnOf = new Map(cell.attributeIds.map((attribute, j) => [attribute, j]));
    const width = cell.attributeIds.length;
    const out = new Float64Array(n * m);
    attributes.forEach((attribute, a) => {
      const column = columnOf.get(attribute);
      if (column === undefined) {
        throw new GridInputError(ARGUMENT, `probe cell ${cellId} has a score for attribute ${attribute} but no stored prediction of it; re-run its probe run.`);
      }
      concepts.forEach((concept, i) => {
        out[i * m + a] = cell.values[rowOf.get(concept)! * width + column]!;
      });
    });
    return out;
  };
  const result = pairedComparison({
    metric, n, attributes: m, truth,
    left: [...left.keys()].map(matrix),
    right: [...right.keys()].map(matrix),
    bootstrapCount: settings.bootstrapCount,
    permutationCount: settings.permutationCount,
    seed: settings.seed,
  });
  return {
    difference: Number.isFinite(result.difference) ? result.difference : null,
    ciLow: result.ciLow,
    ciHigh: result.ciHigh,
    pValue: result.pValue,
    conceptCount: n,
  };
}
