// The axes of a grid: one catalogue statement reads the values of every requested dimension (and the
// fingerprint of the selected probe runs) for one or more scopes, so both sides of a comparison share
// it. The dense grid is assembled from these axes in TypeScript (dense.ts) once its size is checked.
import { identifier, join, sql, where, type SqlFragment } from './sql.ts';
import { attributeConditions, cellConditions, componentConditions, groupConditions, layerConditions, runConditions } from './filters.ts';
import { fingerprintOf, runFingerprint } from './fingerprint.ts';
import { run, type Queryable } from './statement.ts';
import type { GridDimension, GridFilter } from './input.ts';
import type { Axis } from './dense.ts';
import type { RunFingerprint } from './cache.ts';

export interface AxisScope {
  dimensions: readonly GridDimension[];
  filters: readonly GridFilter[];
}

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
      const conditions = [sql`pc.probe_run_id IN (SELECT id FROM ${runs})`, ...cellConditions(filters)];
      // Denoising order: no timestep (text encoder) first, then from the noisiest timestep down.
      return sql`SELECT DISTINCT ${scope}::int AS scope, 'TIMESTEP' AS dimension, NULL::int AS id, pc.timestep,
          coalesce(pc.timestep::text, '—') AS label, ARRAY[(pc.timestep IS NOT NULL)::int, -coalesce(pc.timestep, 0)] AS sort
        FROM probe_cell pc JOIN layer l ON l.id = pc.layer_id JOIN component c ON c.id = l.component_id
        ${where(conditions)}`;
    }
    case 'POOLING': {
      const conditions = [sql`pc.probe_run_id IN (SELECT id FROM ${runs})`, ...cellConditions(filters)];
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
