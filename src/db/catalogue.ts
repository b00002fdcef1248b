// Hand-written SQL behind the API's paged child lists: one statement fetches one page of children
// for MANY parents at once (a LATERAL per parent, with its total), so a nested connection costs
// one round trip however many parents the request holds.
import type pg from 'pg';

export interface PageWindow {
  offset: number;
  limit: number;
}

export interface ChildPage<Row> {
  rows: Row[];
  total: number;
}

/** A trusted (constant) description of one parent → children list. */
interface ChildListSql {
  /** FROM … [JOIN …] of the children. */
  from: string;
  /** Column holding the parent id. */
  parent: string;
  /** Extra condition, may use $4, $5…; empty for none. */
  where?: string;
  /** Columns aliased to camelCase row properties; must include `"key"` (never null for a real row). */
  select: string;
  orderBy: string;
}

async function pagesByParent<Row>(
  pool: pg.Pool,
  sql: ChildListSql,
  parentIds: readonly number[],
  window: PageWindow,
  extraParams: unknown[] = [],
): Promise<Map<number, ChildPage<Row>>> {
  const where = `${sql.parent} = p.parent_id${sql.where ? ` AND ${sql.where}` : ''}`;
  const text = `
    SELECT p.parent_id AS "parentId", t.total, c.*
    FROM unnest($1::int[]) AS p(parent_id)
    CROSS JOIN LATERAL (SELECT count(*)::int AS total FROM ${sql.from} WHERE ${where}) t
    LEFT JOIN LATERAL (
      SELECT ${sql.select} FROM ${sql.from} WHERE ${where} ORDER BY ${sql.orderBy} OFFSET $2 LIMIT $3
    ) c ON true`;
  const result = await pool.query(text, [parentIds, window.offset, window.limit, ...extraParams]);
  const pages = new Map<number, ChildPage<Row>>(parentIds.map((id) => [id, { rows: [], total: 0 }]));
  for (const { parentId, total, ...row } of result.rows as Array<{ parentId: number; total: number; key: unknown }>) {
    const page = pages.get(parentId)!;
    page.total = total;
    if (row.key !== null) page.rows.push(row as Row);
  }
  return pages;
}

export interface ConceptRow {
  id: number;
  word: string;
  /** The concept's category in the dataset the list is scoped to (null outside a dataset). */
  category: string | null;
}

export interface RatingRow {
  attributeId: number;
  conceptId: number;
  value: number;
}

export interface ProbeCellRow {
  id: number;
  probeRunId: number;
  layerId: number;
  timestep: number | null;
  pooling: string;
  conceptCount: number;
  attributeTwoVsTwo: number | null;
  attributeRsa: number | null;
  conceptTwoVsTwo: number | null;
  timings: unknown;
}

export interface ProbeScoreRow {
  id: number;
  cellId: number;
  attributeId: number;
  pearsonR: number;
  r2: number;
  twoVsTwo: number;
  alpha: number;
  nullPearsonR: number | null;
  nullR2: number | null;
  nullTwoVsTwo: number | null;
  pValue: number | null;
  qValue: number | null;
}

const DATASET_CONCEPTS: ChildListSql = {
  from: 'dataset_concept dc JOIN concept c ON c.id = dc.concept_id',
  parent: 'dc.norms_dataset_id',
  select: 'c.id AS key, c.id, c.word, dc.category',
  orderBy: 'dc.position, c.id',
};

const CONCEPT_RATINGS: ChildListSql = {
  from: 'rating r JOIN attribute a ON a.id = r.attribute_id',
  parent: 'r.concept_id',
  where: '($4::int IS NULL OR a.norms_dataset_id = $4)',
  select: 'r.attribute_id AS key, r.attribute_id AS "attributeId", r.concept_id AS "conceptId", r.value',
  orderBy: 'a.norms_dataset_id, a.position, a.id',
};

const ATTRIBUTE_RATINGS: ChildListSql = {
  from: 'rating r JOIN concept c ON c.id = r.concept_id',
  parent: 'r.attribute_id',
  select: 'r.concept_id AS key, r.attribute_id AS "attributeId", r.concept_id AS "conceptId", r.value',
  orderBy: 'c.word',
};

const PROBE_RUN_CELLS: ChildListSql = {
  from: 'probe_cell pc JOIN layer l ON l.id = pc.layer_id JOIN component co ON co.id = l.component_id',
  parent: 'pc.probe_run_id',
  select: `pc.id AS key, pc.id, pc.probe_run_id AS "probeRunId", pc.layer_id AS "layerId", pc.timestep, pc.pooling,
    pc.concept_count AS "conceptCount", pc.attribute_two_vs_two AS "attributeTwoVsTwo", pc.attribute_rsa AS "attributeRsa",
    pc.concept_two_vs_two AS "conceptTwoVsTwo", pc.timings`,
  orderBy: 'co.position, l.index, pc.timestep NULLS FIRST, pc.pooling, pc.id',
};

const CELL_SCORES: ChildListSql = {
  from: 'probe_score ps JOIN attribute a ON a.id = ps.attribute_id',
  parent: 'ps.cell_id',
  select: `ps.id AS key, ps.id, ps.cell_id AS "cellId", ps.attribute_id AS "attributeId", ps.pearson_r AS "pearsonR",
    ps.r2, ps.two_vs_two AS "twoVsTwo", ps.alpha, ps.null_pearson_r AS "nullPearsonR", ps.null_r2 AS "nullR2",
    ps.null_two_vs_two AS "nullTwoVsTwo", ps.p_value AS "pValue", ps.q_value AS "qValue"`,
  orderBy: 'a.position, a.id',
};

function strip<Row extends object>(pages: Map<number, ChildPage<Row & { key?: unknown }>>): Map<number, ChildPage<Row>> {
  for (const page of pages.values()) for (const row of page.rows) delete row.key;
  return pages;
}

export const conceptPagesByNormsDataset = (pool: pg.Pool, normsDatasetIds: readonly number[], window: PageWindow) =>
  pagesByParent<ConceptRow>(pool, DATASET_CONCEPTS, normsDatasetIds, window).then(strip);

export const ratingPagesByConcept = (pool: pg.Pool, conceptIds: readonly number[], window: PageWindow, normsDatasetId: number | null) =>
  pagesByParent<RatingRow>(pool, CONCEPT_RATINGS, conceptIds, window, [normsDatasetId]).then(strip);

export const ratingPagesByAttribute = (pool: pg.Pool, attributeIds: readonly number[], window: PageWindow) =>
  pagesByParent<RatingRow>(pool, ATTRIBUTE_RATINGS, attributeIds, window).then(strip);

export const cellPagesByProbeRun = (pool: pg.Pool, probeRunIds: readonly number[], window: PageWindow) =>
  pagesByParent<ProbeCellRow>(pool, PROBE_RUN_CELLS, probeRunIds, window).then(strip);

export const scorePagesByCell = (pool: pg.Pool, cellIds: readonly number[], window: PageWindow) =>
  pagesByParent<ProbeScoreRow>(pool, CELL_SCORES, cellIds, window).then(strip);

/** A page of run ids; the runs themselves are loaded by id (Prisma rows, dates as Prisma reads them). */
export interface RunIdRow {
  id: number;
}

const MODEL_EXTRACTION_RUNS: ChildListSql = {
  from: 'extraction_run er',
  parent: 'er.model_id',
  select: 'er.id AS key, er.id',
  orderBy: 'er.created_at DESC, er.id DESC',
};

const EXTRACTION_PROBE_RUNS: ChildListSql = {
  from: 'probe_run pr',
  parent: 'pr.extraction_run_id',
  select: 'pr.id AS key, pr.id',
  orderBy: 'pr.created_at DESC, pr.id DESC',
};

export const extractionRunPagesByModel = (pool: pg.Pool, modelIds: readonly number[], window: PageWindow) =>
  pagesByParent<RunIdRow>(pool, MODEL_EXTRACTION_RUNS, modelIds, window).then(strip);

export const probeRunPagesByExtractionRun = (pool: pg.Pool, extractionRunIds: readonly number[], window: PageWindow) =>
  pagesByParent<RunIdRow>(pool, EXTRACTION_PROBE_RUNS, extractionRunIds, window).then(strip);

/**
 * Longest `concepts(search:)` text, in characters. The substring match is served by a trigram index
 * (concept_word_trgm_idx, pg_trgm), but ILIKE still compares the pattern with each candidate word:
 * a 900 KB pattern held a pool connection for 6 s, and twelve of them starved the pool.
 */
export const MAX_CONCEPT_SEARCH_LENGTH = 200;

/** One page of concepts, by word or (with normsDatasetId) in the dataset's order, optionally filtered by a substring. */
export async function listConcepts(
  pool: pg.Pool,
  filter: { normsDatasetId?: number; search?: string },
  window: PageWindow,
): Promise<ChildPage<ConceptRow>> {
  const scoped = filter.normsDatasetId !== undefined;
  const params: unknown[] = [];
  const conditions: string[] = [];
  if (scoped) conditions.push(`dc.norms_dataset_id = $${params.push(filter.normsDatasetId)}`);
  if (filter.search) conditions.push(`c.word ILIKE $${params.push(`%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
  const from = scoped ? 'dataset_concept dc JOIN concept c ON c.id = dc.concept_id' : 'concept c';
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const [rows, count] = await Promise.all([
    pool.query<ConceptRow>(
      `SELECT c.id, c.word, ${scoped ? 'dc.category' : 'NULL::text AS category'} FROM ${from} ${where}
       ORDER BY ${scoped ? 'dc.position, c.id' : 'c.word'} OFFSET $${params.length + 1} LIMIT $${params.length + 2}`,
      [...params, window.offset, window.limit],
    ),
    pool.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${from} ${where}`, params),
  ]);
  return { rows: rows.rows, total: count.rows[0]!.total };
}

/** Distinct timesteps recorded by each extraction run, ascending. */
export async function timestepsByExtractionRun(pool: pg.Pool, runIds: readonly number[]): Promise<Map<number, number[]>> {
  const result = await pool.query<{ runId: number; timesteps: number[] }>(
    `SELECT run_id AS "runId", array_agg(DISTINCT timestep ORDER BY timestep) AS timesteps
     FROM activation_summary WHERE run_id = ANY($1::int[]) AND timestep IS NOT NULL GROUP BY run_id`,
    [runIds],
  );
  return new Map(result.rows.map((row) => [row.runId, row.timesteps]));
}
