// The job half of the lifecycle, as the worker drives it: claim (QUEUED → RUNNING, the run PENDING →
// RUNNING), a unit done, and the end of an attempt — DONE, back to QUEUED (retry, or released by a
// stopping worker) or FAILED (attempts used up) — each end in one transaction with the run row lock,
// in which the run is settled (runs.ts). A job CANCELLED meanwhile stays CANCELLED.
import type pg from 'pg';
import { inTransaction } from '../db/transaction.ts';
import { moveRun } from '../runs/status.ts';
import { lockRun, runTableOf, settleRun } from './runs.ts';
import type { JobHandler, JobKind, JobOutcome, JobRow, JobStatus } from './types.ts';

interface ClaimRow {
  kind: JobKind;
  settings_hash: string;
  run_id: number;
  position: number;
  spec: unknown;
  unit_count: number;
  max_attempts: number;
}

/**
 * Takes job `jobId` for `workerId` (attempt `attempt`, counted by the queue); null when it is no longer
 * to be run (DONE, FAILED, CANCELLED, or gone): its queue entry is then simply completed.
 */
export async function claimJob(pool: pg.Pool, jobId: number, workerId: string, attempt: number): Promise<(JobRow & { settingsHash: string }) | null> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<ClaimRow>(
      `SELECT j.kind, coalesce(j.extraction_run_id, j.probe_run_id) AS run_id, j.position, j.spec, j.unit_count, j.max_attempts,
         coalesce(e.settings_hash, p.settings_hash) AS settings_hash
       FROM job j LEFT JOIN extraction_run e ON e.id = j.extraction_run_id LEFT JOIN probe_run p ON p.id = j.probe_run_id WHERE j.id = $1`, [jobId],
    );
    const job = rows[0];
    if (!job) return null;
    const run = await lockRun(client, job.kind, job.run_id);
    const claimed = await client.query(
      `UPDATE job SET status = 'RUNNING', attempts = $3, worker_id = $2, started_at = now(), finished_at = NULL
       WHERE id = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING id`,
      [jobId, workerId, attempt],
    );
    if (claimed.rowCount === 0) return null;
    // The run's status machine (src/runs/status.ts): entering RUNNING sets started_at, clears finished_at and error.
    if (run.status !== 'RUNNING') await moveRun(client, runTableOf(job.kind), job.run_id, run.status, 'RUNNING');
    return { settingsHash: job.settings_hash, id: jobId, kind: job.kind, runId: job.run_id, position: job.position, spec: job.spec, unitCount: job.unit_count, attempt, maxAttempts: job.max_attempts };
  });
}

/** A unit of job `jobId` was committed. */
export async function recordUnit(pool: pg.Pool, jobId: number, rowsWritten: number): Promise<void> {
  await pool.query('UPDATE job SET units_done = least(unit_count, units_done + 1), rows_written = rows_written + $2 WHERE id = $1', [jobId, rowsWritten]);
}

export async function jobStatus(pool: pg.Pool, jobId: number): Promise<JobStatus | null> {
  const { rows } = await pool.query<{ status: JobStatus }>('SELECT status FROM job WHERE id = $1', [jobId]);
  return rows[0]?.status ?? null;
}

/** The attempt succeeded: DONE with its outcome (unless CANCELLED or FAILED meanwhile); the run completes when it was its last job. */
export async function finishJob(pool: pg.Pool, job: JobRow, outcome: JobOutcome, handler: JobHandler): Promise<void> {
  await inTransaction(pool, async (client) => {
    const run = await lockRun(client, job.kind, job.runId);
    // A job cancelled (or failed for good by another delivery) meanwhile keeps that status.
    const done = await client.query(
      `UPDATE job SET status = 'DONE', finished_at = now(), units_done = $2, timings = $3::jsonb, error = NULL WHERE id = $1 AND status IN ('RUNNING', 'QUEUED')`,
      [job.id, outcome.unitsDone, JSON.stringify(outcome.timings)],
    );
    if (done.rowCount) await settleRun(client, job.kind, job.runId, run, handler);
  });
}

/**
 * The attempt failed: the job goes back to QUEUED (it will be retried, or it was released by a stopping
 * worker) or, when `final`, to FAILED; `error` is stored either way. A CANCELLED job stays so.
 */
export async function failJob(pool: pg.Pool, job: JobRow, error: string, final: boolean, handler: JobHandler): Promise<void> {
  await inTransaction(pool, async (client) => {
    const run = await lockRun(client, job.kind, job.runId);
    await client.query(
      `UPDATE job SET status = $2::"JobStatus", error = $3, finished_at = CASE WHEN $2 = 'FAILED' THEN now() END,
         worker_id = CASE WHEN $2 = 'FAILED' THEN worker_id END
       WHERE id = $1 AND status NOT IN ('CANCELLED', 'DONE')`,
      [job.id, final ? 'FAILED' : 'QUEUED', error],
    );
    await settleRun(client, job.kind, job.runId, run, handler);
  });
}

/** Jobs `workerId` was running, back to QUEUED with `reason` (the worker was lost); returns how many. No run settles on it, so no run lock. */
export async function requeueWorkerJobs(pool: pg.Pool, workerIds: readonly string[], reason: string): Promise<number> {
  if (workerIds.length === 0) return 0;
  const { rowCount } = await pool.query(
    `UPDATE job SET status = 'QUEUED', error = $2, worker_id = NULL WHERE worker_id = ANY($1::text[]) AND status = 'RUNNING'`,
    [workerIds, reason],
  );
  return rowCount ?? 0;
}

