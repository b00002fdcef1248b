// Where a job's run lives (extraction_run or probe_run, by the job's kind) and the run-level half of
// the job lifecycle: lock the run row, count its jobs by status, and settle the run when its jobs say
// so — COMPLETED through its kind's handler when every job is DONE, FAILED with a summary when
// nothing is left queued or running and some job failed or was cancelled. Every writer of job status
// that ends a job or settles the run (worker, cancel, retry, enqueue) takes the run row lock first, so
// these decisions never race; a lost worker's jobs going back to QUEUED settle nothing and take none.
import type pg from 'pg';
import { moveRun } from '../runs/status.ts';
import type { Queryable, RunStatus, RunTable } from '../runs/store.ts';
import { JobError } from './errors.ts';
import type { JobHandler, JobKind, JobStatus } from './types.ts';

export const runTableOf = (kind: JobKind): RunTable => (kind === 'EXTRACT' ? 'extraction_run' : 'probe_run');
export const runColumnOf = (kind: JobKind) => (kind === 'EXTRACT' ? 'extraction_run_id' : 'probe_run_id');

/** A run as its lock holder sees it. */
export interface LockedRun {
  status: RunStatus;
  error: string | null;
}

/** Locks run `runId` of `kind` for the caller's transaction; throws RUN_NOT_FOUND. */
export async function lockRun(db: Queryable, kind: JobKind, runId: number): Promise<LockedRun> {
  const { rows } = await db.query<LockedRun>(`SELECT status, error FROM ${runTableOf(kind)} WHERE id = $1 FOR UPDATE`, [runId]);
  if (!rows[0]) throw new JobError('RUN_NOT_FOUND', `${kind === 'EXTRACT' ? 'Extraction' : 'Probe'} run ${runId} does not exist.`);
  return rows[0];
}

export type JobCounts = Record<JobStatus, number> & { total: number };

export async function countJobs(db: Queryable, kind: JobKind, runId: number): Promise<JobCounts> {
  const { rows } = await db.query<{ status: JobStatus; count: number }>(
    `SELECT status, count(*)::int AS count FROM job WHERE ${runColumnOf(kind)} = $1 GROUP BY status`, [runId],
  );
  const counts: JobCounts = { QUEUED: 0, RUNNING: 0, DONE: 0, FAILED: 0, CANCELLED: 0, total: 0 };
  for (const row of rows) {
    counts[row.status] = row.count;
    counts.total += row.count;
  }
  return counts;
}

/** The message a run whose jobs ended without all succeeding stores as its error. */
export const CANCELLED_MESSAGE = 'cancelled; retryRun (or the same --enqueue command) queues its jobs again';

/**
 * Settles run `runId` after a job of it changed status, on `db` (holding the run lock; `run` as lockRun
 * read it): COMPLETED via `handler.complete` when every job is DONE, FAILED (through the status machine,
 * src/runs/status.ts) when none is left queued or running and some failed or were cancelled; otherwise
 * nothing. Returns what it did.
 */
export async function settleRun(db: pg.PoolClient, kind: JobKind, runId: number, run: LockedRun, handler: Pick<JobHandler, 'complete'> | null): Promise<'COMPLETED' | 'FAILED' | null> {
  const { status } = run;
  const counts = await countJobs(db, kind, runId);
  if (counts.total === 0) return null;
  if (counts.DONE === counts.total) {
    if (status === 'COMPLETED' || !handler) return null;
    await handler.complete(db, runId);
    return 'COMPLETED';
  }
  if (counts.QUEUED + counts.RUNNING > 0) return null;
  const { rows } = await db.query<{ position: number; error: string | null }>(
    `SELECT position, error FROM job WHERE ${runColumnOf(kind)} = $1 AND status = 'FAILED' ORDER BY position LIMIT 1`, [runId],
  );
  const message = counts.FAILED === 0
    ? CANCELLED_MESSAGE
    : `${counts.FAILED} of ${counts.total} jobs failed${counts.CANCELLED ? ` (${counts.CANCELLED} cancelled)` : ''}; first, job ${rows[0]!.position}: ${rows[0]!.error ?? 'no error recorded'}`;
  // A run COMPLETED meanwhile (by an in-process run of it, with every unit stored) stays COMPLETED; one
  // already FAILED with this very message is left as it is.
  if (status === 'COMPLETED' || (status === 'FAILED' && run.error === message)) return null;
  await moveRun(db, runTableOf(kind), runId, status, 'FAILED', { error: message });
  return 'FAILED';
}
