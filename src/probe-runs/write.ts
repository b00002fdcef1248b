// Writes of a probe run. A cell — probe_cell, its scores, group scores, its attribute × attribute
// matrices and out-of-fold predictions (src/db/cell-matrices.ts), and the run's progress — goes in
// ONE transaction, so a killed run leaves whole cells or nothing, and the q-values of the whole grid
// are filled in one transaction when the run ends. The same writes serve the in-process run
// (src/probe-runs/run.ts) and the queue's PROBE jobs (src/jobs/probe-job.ts), where several workers
// write cells of one run at once: a cell's unique key decides a race, and the run's row lock makes
// done_count exact (recordCellsDone).
import type pg from 'pg';
import { benjaminiHochberg } from '../probes/fdr.ts';
import { finiteOrNull, type CellResult } from '../probes/cell.ts';
import { writeCellMatrices, writeCellPredictions } from '../db/cell-matrices.ts';
import { inTransaction } from '../db/transaction.ts';
import { recordProgress } from '../runs/progress.ts';
import { moveRun } from '../runs/status.ts';
import type { RunStatus } from '../runs/store.ts';
import { listFinishedCells, type CellKey, type NormsData } from './load.ts';

const finite = (v: number) => Number.isFinite(v);

/** The probe run cells are written to: an in-process run (ActiveRun) or a job's run. */
export interface ProbeRunTarget {
  readonly pool: pg.Pool;
  readonly id: number;
}

/**
 * Cells done = cells written + cells recorded as skipped (too few concepts), counted in `client`'s
 * transaction after taking the run row's lock. Without the lock, two cells committed at once (two
 * workers, READ COMMITTED) would each count without the other, and the later commit would store a
 * count one short. FOR NO KEY UPDATE, not FOR UPDATE: the probe_cell insert before it holds the
 * foreign key's KEY SHARE lock on the same row, which FOR UPDATE would wait on (two writers would
 * deadlock), while FOR NO KEY UPDATE conflicts only with itself and the UPDATE that follows.
 * Once the lock is held, the count (a new snapshot) sees every cell whose transaction locked it before.
 */
export async function recordCellsDone(client: pg.PoolClient, probeRunId: number): Promise<void> {
  await client.query('SELECT 1 FROM probe_run WHERE id = $1 FOR NO KEY UPDATE', [probeRunId]);
  await recordProgress(client, 'probe_run', probeRunId, (await listFinishedCells(client, probeRunId)).size);
}

/**
 * Returns the new cell id, or null when the cell already existed (another process wrote it).
 * `conceptIds` are the cell's concepts in the rows' order of `result` (its predictions).
 */
export async function writeCell(
  run: ProbeRunTarget, cell: CellKey, norms: NormsData, conceptIds: readonly number[], result: CellResult, timings: Record<string, number>,
): Promise<number | null> {
  const probeRunId = run.id;
  return inTransaction(run.pool, async (client) => {
    const inserted = await client.query<{ id: number }>(
      `INSERT INTO probe_cell (probe_run_id, layer_id, timestep, pooling, concept_count, attribute_two_vs_two, attribute_rsa, concept_two_vs_two, timings)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id`,
      [probeRunId, cell.layerId, cell.timestep, cell.pooling, result.n, finiteOrNull(result.attributeTwoVsTwo),
        finiteOrNull(result.attributeRsa), finiteOrNull(result.conceptTwoVsTwo), JSON.stringify(timings)],
    );
    const cellId = inserted.rows[0]?.id;
    if (cellId === undefined) return null;

    // Attributes without a defined score (ratings constant over the cell's concepts) get no row.
    const scores = result.attributes.map((score, a) => ({ ...score, attributeId: norms.attributeIds[a]! }))
      .filter((score) => finite(score.pearsonR) && finite(score.r2) && finite(score.twoVsTwo));
    await client.query(
      `INSERT INTO probe_score (cell_id, attribute_id, pearson_r, r2, two_vs_two, alpha, null_pearson_r, null_r2, null_two_vs_two, p_value)
       SELECT $1, * FROM unnest($2::int[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[])`,
      [cellId, scores.map((s) => s.attributeId), scores.map((s) => s.pearsonR), scores.map((s) => s.r2), scores.map((s) => s.twoVsTwo),
        scores.map((s) => s.alpha), scores.map((s) => s.nullPearsonR), scores.map((s) => s.nullR2), scores.map((s) => s.nullTwoVsTwo),
        scores.map((s) => s.pValue)],
    );
    const groups = result.groups.filter((g) => finite(g.mean) && finite(g.ciLow) && finite(g.ciHigh));
    await client.query(
      `INSERT INTO probe_group_score (cell_id, attribute_group_id, metric, mean, ci_low, ci_high)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::float8[], $5::float8[], $6::float8[])`,
      [cellId, groups.map((g) => norms.groups[g.group]!.groupId), groups.map((g) => g.metric), groups.map((g) => g.mean),
        groups.map((g) => g.ciLow), groups.map((g) => g.ciHigh)],
    );
    // One float32 array per measure and one for the predictions, not a row per attribute pair:
    // 2,526 attributes make 3.2 M pairs (docs/database.md, "Cell results").
    await writeCellMatrices(client, cellId, norms.attributeIds, {
      pair_accuracy: result.pairAccuracies, model_similarity: result.modelSimilarity, human_similarity: result.humanSimilarity,
    });
    await writeCellPredictions(client, cellId, conceptIds, norms.attributeIds, result.predictions);
    await recordCellsDone(client, probeRunId);
    return cellId;
  });
}

/**
 * A cell with too few concepts to fit is recorded in probe_run.timings.skipped (cell key → reason), so it
 * counts as done: a re-run of a finished run is idle and progress reaches done = total. Concurrent
 * records are not lost: the UPDATE waits for the row lock of any other writer and then applies
 * jsonb_set to the row as that writer committed it (READ COMMITTED re-reads the updated row).
 */
export async function recordSkippedCell(run: ProbeRunTarget, cellKey: string, reason: string): Promise<void> {
  await inTransaction(run.pool, async (client) => {
    await client.query(
      `UPDATE probe_run SET timings = jsonb_set(timings, '{skipped}', coalesce(timings->'skipped', '{}'::jsonb) || jsonb_build_object($2::text, $3::text))
       WHERE id = $1`,
      [run.id, cellKey, reason],
    );
    await recordCellsDone(client, run.id);
  });
}

/**
 * Benjamini–Hochberg q-values over every (cell, attribute) p-value of the run, done_count, then
 * COMPLETED, on `client` (the caller's transaction: the in-process run's last one, or the job queue's
 * that holds the run row's lock when its last job is done). `runTimings` are merged into the run's
 * timings. A run already COMPLETED (re-completed, e.g. jobs planned for a finished run) gets its
 * q-values and count again and stays COMPLETED with its finished_at.
 */
export async function finishRun(client: pg.PoolClient, probeRunId: number, runTimings?: Record<string, unknown>): Promise<void> {
  const locked = await client.query<{ status: RunStatus }>('SELECT status FROM probe_run WHERE id = $1 FOR NO KEY UPDATE', [probeRunId]);
  const status = locked.rows[0]?.status;
  if (status === undefined) throw new Error(`finishRun: probe run ${probeRunId} does not exist.`);
  const scores = await client.query<{ id: number; p_value: number }>(
    `SELECT s.id, s.p_value FROM probe_score s JOIN probe_cell c ON c.id = s.cell_id
     WHERE c.probe_run_id = $1 AND s.p_value IS NOT NULL ORDER BY s.id`,
    [probeRunId],
  );
  const q = benjaminiHochberg(scores.rows.map((row) => row.p_value));
  await client.query(
    `UPDATE probe_score SET q_value = u.q FROM unnest($1::int[], $2::float8[]) AS u(id, q) WHERE probe_score.id = u.id`,
    [scores.rows.map((row) => row.id), Array.from(q)],
  );
  const doneCount = (await listFinishedCells(client, probeRunId)).size;
  const timings = runTimings === undefined ? undefined : { merge: runTimings };
  if (status === 'COMPLETED') await recordProgress(client, 'probe_run', probeRunId, doneCount, timings);
  else await moveRun(client, 'probe_run', probeRunId, status, 'COMPLETED', { doneCount, timings });
}
