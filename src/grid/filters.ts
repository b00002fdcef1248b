// A grid filter as SQL conditions, written once: each filter field becomes its condition on the one
// table it is about (component `c`, cell `pc`, attribute group `ag`, probe run `pr`), and the
// conditions each statement needs (on score rows, on the rows of an axis, on the selected runs) are
// put together from those. A new filter field is added here and nowhere else.
import { sql, where, type SqlFragment } from './sql.ts';
import type { GridFilter } from './input.ts';

export function intList(values: readonly number[]): SqlFragment {
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

// ───────────────────────────── one table each ─────────────────────────────

/** The filter's own conditions on a component row `c` (kind, id). */
function onComponent(f: GridFilter): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  if (f.componentKinds) conditions.push(sql`c.kind = ANY(${f.componentKinds}::"ComponentKind"[])`);
  if (f.componentIds) conditions.push(sql`c.id = ANY(${intList(f.componentIds)})`);
  return conditions;
}

/** The filter's own conditions on a cell row `pc` (timestep, pooling). */
function onCell(f: GridFilter): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  if (f.timesteps) conditions.push(timestepCondition(sql`pc.timestep`, f.timesteps));
  if (f.poolings) conditions.push(sql`pc.pooling = ANY(${f.poolings}::text[])`);
  return conditions;
}

/** The filter's own conditions on an attribute group row `ag` (name, id). */
function onGroup(f: GridFilter): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  if (f.attributeGroupNames) conditions.push(sql`ag.name = ANY(${f.attributeGroupNames}::text[])`);
  if (f.attributeGroupIds) conditions.push(sql`ag.id = ANY(${intList(f.attributeGroupIds)})`);
  return conditions;
}

/** The filter's own conditions on a probe run row `pr` (id, extraction run). */
function onRun(f: GridFilter): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  if (f.probeRunIds) conditions.push(sql`pr.id = ANY(${intList(f.probeRunIds)})`);
  if (f.extractionRunIds) conditions.push(sql`pr.extraction_run_id = ANY(${intList(f.extractionRunIds)})`);
  return conditions;
}

// ───────────────────────────── what each statement needs ─────────────────────────────

/**
 * Conditions on score rows (aliases ps, pc). Filters on the catalogue (component kind, group
 * name…) become id lists computed once per statement (InitPlans: `ARRAY(SELECT …)`), so the
 * planner sees `pc.layer_id = ANY(…)` and `ps.attribute_id = ANY(…)` and can use the score and
 * cell indexes instead of joining every score to its component and group first (3× faster on
 * the benchmark heatmap).
 */
export function scoreConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const f of filters) {
    const components = onComponent(f);
    if (components.length > 0) {
      conditions.push(sql`pc.layer_id = ANY(ARRAY(SELECT sl.id FROM layer sl JOIN component c ON c.id = sl.component_id ${where(components)}))`);
    }
    if (f.layerIds) conditions.push(sql`pc.layer_id = ANY(${intList(f.layerIds)})`);
    conditions.push(...onCell(f));
    const groups = onGroup(f);
    if (groups.length > 0) {
      conditions.push(sql`ps.attribute_id = ANY(ARRAY(SELECT sa.id FROM attribute sa JOIN attribute_group ag ON ag.id = sa.attribute_group_id ${where(groups)}))`);
    }
    if (f.attributeIds) conditions.push(sql`ps.attribute_id = ANY(${intList(f.attributeIds)})`);
    if (f.probeRunIds) conditions.push(sql`pc.probe_run_id = ANY(${intList(f.probeRunIds)})`);
    if (f.extractionRunIds) {
      conditions.push(sql`pc.probe_run_id = ANY(ARRAY(SELECT pr.id FROM probe_run pr ${where(onRun({ extractionRunIds: f.extractionRunIds }))}))`);
    }
  }
  return conditions;
}

/** Conditions on a probe run row `pr`: the runs a request selects. */
export function runConditions(filters: readonly GridFilter[]): SqlFragment[] {
  return filters.flatMap(onRun);
}

/** Conditions on a component row `c`, including "has one of the filtered layers". */
export function componentConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const f of filters) {
    conditions.push(...onComponent(f));
    if (f.layerIds) {
      conditions.push(sql`EXISTS (SELECT 1 FROM layer fl WHERE fl.component_id = c.id AND fl.id = ANY(${intList(f.layerIds)}))`);
    }
    if (f.timesteps) conditions.push(hasTimestepsCondition(sql`c.has_timesteps`, f.timesteps));
  }
  return conditions;
}

/** Conditions on a layer row `l` joined to its component `c`. */
export function layerConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions = componentConditions(filters);
  for (const f of filters) if (f.layerIds) conditions.push(sql`l.id = ANY(${intList(f.layerIds)})`);
  return conditions;
}

/** Conditions on a cell row `pc` joined to its layer `l` and component `c`. */
export function cellConditions(filters: readonly GridFilter[]): SqlFragment[] {
  return [...layerConditions(filters), ...filters.flatMap(onCell)];
}

/** Conditions on an attribute group row `ag`, including "has one of the filtered attributes". */
export function groupConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions: SqlFragment[] = [];
  for (const f of filters) {
    conditions.push(...onGroup(f));
    if (f.attributeIds) {
      conditions.push(sql`EXISTS (SELECT 1 FROM attribute fa WHERE fa.attribute_group_id = ag.id AND fa.id = ANY(${intList(f.attributeIds)}))`);
    }
  }
  return conditions;
}

/** Conditions on an attribute row `a` joined to its group `ag`. */
export function attributeConditions(filters: readonly GridFilter[]): SqlFragment[] {
  const conditions = groupConditions(filters);
  for (const f of filters) if (f.attributeIds) conditions.push(sql`a.id = ANY(${intList(f.attributeIds)})`);
  return conditions;
}
