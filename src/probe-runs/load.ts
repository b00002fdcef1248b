// Reads what a probe run needs from the database: the norms dataset, its concepts after category
// filters, the attributes the run's selection keeps, the ratings matrix, and the cells
// (layer × timestep × pooling) of the extraction run.
import type pg from 'pg';
import { ProbeRunError } from './errors.ts';
import { selectAttributes, type ExcludedAttribute } from './selection.ts';
import { describeAttributeSelection, type ProbeSettings } from './settings.ts';

export interface NormsData {
  datasetId: number;
  /** Concept ids with a complete rating row, ascending. */
  conceptIds: number[];
  /** Concepts left out because at least one selected attribute has no rating. */
  droppedIncomplete: number;
  /** The attributes probed: those the selection keeps, in the norms' order. */
  attributeIds: number[];
  /** The attributes the selection left out (--min-support, --min-variance), with why; empty without one. */
  excludedAttributes: ExcludedAttribute[];
  /** groups[g] = indices into attributeIds. */
  groups: { groupId: number; attributes: number[] }[];
  /** conceptIds.length × attributeIds.length, row-major. */
  ratings: Float64Array;
}

export interface CellKey {
  layerId: number;
  timestep: number | null;
  pooling: string;
}

export const cellLabel = (cell: CellKey) => `layer ${cell.layerId}, timestep ${cell.timestep ?? '-'}, pooling ${cell.pooling}`;

/** `name`, `name@version` or a numeric id. Without a version, the newest version of the name. */
export async function resolveDataset(client: pg.Pool | pg.PoolClient, reference: string): Promise<number> {
  const trimmed = reference.trim();
  if (/^\d+$/.test(trimmed)) {
    const found = await client.query<{ id: number }>('SELECT id FROM norms_dataset WHERE id = $1', [Number(trimmed)]);
    if (found.rows[0]) return found.rows[0].id;
    throw new ProbeRunError('DATASET_NOT_FOUND', `--norms ${reference}: no norms dataset with id ${trimmed}.`);
  }
  const at = trimmed.lastIndexOf('@');
  const name = at > 0 ? trimmed.slice(0, at) : trimmed;
  const version = at > 0 ? trimmed.slice(at + 1) : undefined;
  if (version !== undefined && !/^\d+$/.test(version)) {
    throw new ProbeRunError('BAD_ARGUMENT', `--norms ${reference}: the version after @ must be an integer.`);
  }
  const found = await client.query<{ id: number }>(
    `SELECT id FROM norms_dataset WHERE name = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1`,
    [name, version === undefined ? null : Number(version)],
  );
  if (found.rows[0]) return found.rows[0].id;
  throw new ProbeRunError('DATASET_NOT_FOUND', `--norms ${reference}: no norms dataset named "${name}"${version ? ` with version ${version}` : ''}.`);
}

export async function loadNorms(client: pg.Pool | pg.PoolClient, datasetId: number, settings: ProbeSettings): Promise<NormsData> {
  const concepts = await client.query<{ concept_id: number }>(
    `SELECT concept_id FROM dataset_concept
     WHERE norms_dataset_id = $1
       AND ($2::text[] IS NULL OR category = ANY($2::text[]))
       AND NOT (coalesce(category, '') = ANY($3::text[]))
     ORDER BY concept_id`,
    [datasetId, settings.categories, settings.excludeCategories],
  );
  const attributes = await client.query<{ id: number; attribute_group_id: number; group_position: number }>(
    `SELECT a.id, a.attribute_group_id, g.position AS group_position FROM attribute a JOIN attribute_group g ON g.id = a.attribute_group_id
     WHERE a.norms_dataset_id = $1 ORDER BY a.position, a.id`,
    [datasetId],
  );
  const datasetAttributeIds = attributes.rows.map((row) => row.id);
  const attributeIndex = new Map(datasetAttributeIds.map((id, index) => [id, index]));
  const candidateIds = concepts.rows.map((row) => row.concept_id);
  const conceptIndex = new Map(candidateIds.map((id, index) => [id, index]));
  const all = datasetAttributeIds.length;
  const full = new Float64Array(candidateIds.length * all).fill(NaN);
  const ratings = await client.query<{ attribute_id: number; concept_id: number; value: number }>(
    `SELECT r.attribute_id, r.concept_id, r.value FROM rating r JOIN attribute a ON a.id = r.attribute_id
     WHERE a.norms_dataset_id = $1 AND r.concept_id = ANY($2::int[])`,
    [datasetId, candidateIds],
  );
  for (const row of ratings.rows) full[conceptIndex.get(row.concept_id)! * all + attributeIndex.get(row.attribute_id)!] = row.value;
  // The selection counts over the concepts the category filters select (the run's concepts), before
  // concepts missing a rating of a kept attribute are left out below (docs/norms.md).
  const choice = selectAttributes(full, candidateIds.length, all, settings);
  if (choice.kept.length === 0) {
    throw new ProbeRunError('NO_ATTRIBUTES',
      `No attribute of dataset ${datasetId} passes the selection (${describeAttributeSelection(settings)}) over its ${candidateIds.length} concepts; lower --min-support or --min-variance.`);
  }
  const m = choice.kept.length;
  const attributeIds = choice.kept.map((a) => datasetAttributeIds[a]!);
  // One concept set per run keeps a single decomposition per fold for all attributes: concepts missing
  // any rating are left out rather than fitting each attribute on its own concept subset.
  const keep: number[] = [];
  candidateIds.forEach((_, i) => {
    for (const a of choice.kept) if (Number.isNaN(full[i * all + a]!)) return;
    keep.push(i);
  });
  const matrix = new Float64Array(keep.length * m);
  keep.forEach((i, r) => choice.kept.forEach((a, c) => { matrix[r * m + c] = full[i * all + a]!; }));
  const groups = new Map<number, { groupId: number; position: number; attributes: number[] }>();
  choice.kept.forEach((datasetIndex, index) => {
    const row = attributes.rows[datasetIndex]!;
    let group = groups.get(row.attribute_group_id);
    if (!group) groups.set(row.attribute_group_id, (group = { groupId: row.attribute_group_id, position: row.group_position, attributes: [] }));
    group.attributes.push(index);
  });
  return {
    datasetId,
    conceptIds: keep.map((i) => candidateIds[i]!),
    droppedIncomplete: candidateIds.length - keep.length,
    attributeIds,
    excludedAttributes: choice.excluded.map(({ index, ...excluded }) => ({ attributeId: datasetAttributeIds[index]!, ...excluded })),
    groups: [...groups.values()].sort((a, b) => a.position - b.position).map(({ groupId, attributes: members }) => ({ groupId, attributes: members })),
    ratings: matrix,
  };
}

export async function listCells(client: pg.Pool | pg.PoolClient, extractionRunId: number, settings: ProbeSettings): Promise<CellKey[]> {
  const timesteps = settings.timesteps;
  const result = await client.query<{ layer_id: number; timestep: number | null; pooling: string }>(
    `SELECT DISTINCT layer_id, timestep, pooling FROM activation_summary
     WHERE run_id = $1
       AND ($2::int[] IS NULL OR layer_id = ANY($2::int[]))
       AND ($3::text[] IS NULL OR pooling = ANY($3::text[]))
       AND ($4::boolean IS NULL OR timestep = ANY($5::int[]) OR ($4 AND timestep IS NULL))
     ORDER BY layer_id, timestep NULLS FIRST, pooling`,
    [
      extractionRunId,
      settings.layers,
      settings.poolings,
      timesteps === null ? null : timesteps.includes(null),
      timesteps === null ? null : timesteps.filter((t): t is number => t !== null),
    ],
  );
  return result.rows.map((row) => ({ layerId: row.layer_id, timestep: row.timestep, pooling: row.pooling }));
}

export async function listDoneCells(client: pg.Pool | pg.PoolClient, probeRunId: number): Promise<Set<string>> {
  const result = await client.query<{ layer_id: number; timestep: number | null; pooling: string }>(
    'SELECT layer_id, timestep, pooling FROM probe_cell WHERE probe_run_id = $1',
    [probeRunId],
  );
  return new Set(result.rows.map((row) => cellKeyString({ layerId: row.layer_id, timestep: row.timestep, pooling: row.pooling })));
}

/** Cells finished: written (probe_cell rows) plus recorded as skipped (too few concepts, in timings.skipped). */
export async function listFinishedCells(client: pg.Pool | pg.PoolClient, probeRunId: number): Promise<Set<string>> {
  const done = await listDoneCells(client, probeRunId);
  const skipped = await client.query<{ key: string }>(
    `SELECT jsonb_object_keys(coalesce(timings->'skipped', '{}'::jsonb)) AS key FROM probe_run WHERE id = $1`, [probeRunId],
  );
  for (const row of skipped.rows) done.add(row.key);
  return done;
}

export const cellKeyString = (cell: CellKey) => `${cell.layerId}|${cell.timestep ?? ''}|${cell.pooling}`;
