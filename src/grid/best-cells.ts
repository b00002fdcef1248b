// Best cells: per attribute group (or attribute), the (layer, timestep, pooling) whose mean score is
// highest, in one statement, with the t-interval of that mean.
import { sql, where, type SqlFragment } from './sql.ts';
import type { BestQuery } from './input.ts';
import { meanInterval } from './stats.ts';
import { scoreConditions } from './filters.ts';
import { metricColumns, SCORE_JOINS } from './aggregate.ts';
import { run, type Queryable } from './statement.ts';
import type { GridOptions } from './grid.ts';

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

/**
 * One statement: per target, the (layer, timestep) with the highest mean (ties: more scores, then
 * catalogue order). Cells without a value (SIGNIFICANT_SHARE where no q-value is stored) are not ranked.
 */
export function bestStatement(query: BestQuery): SqlFragment {
  const { value } = metricColumns(query);
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
      HAVING count(${value}) > 0
      ORDER BY ${target}, avg(${value}) DESC NULLS LAST, count(${value}) DESC, pc.layer_id, pc.timestep DESC NULLS FIRST, pc.pooling
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
