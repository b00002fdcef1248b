// Planning a run into jobs without running it (`npm run extract|probe -- … --enqueue`): the units of
// the run (concepts, cells) no job covers yet become new jobs of `jobSize` units, FAILED or CANCELLED
// jobs are queued again, and each gets its graphile-worker entry — all in ONE transaction holding the
// run's row lock, so a plan is never half written and enqueueing the same command twice adds nothing.
// The job size is not part of the run's identity (like the batch size): it is how the work is split.
import type pg from 'pg';
import { inTransaction } from '../db/transaction.ts';
import { JobError } from './errors.ts';
import { addQueueEntries } from './queue.ts';
import { lockRun, runColumnOf, runTableOf } from './runs.ts';
import type { JobKind } from './types.ts';

export { taskFor } from './queue.ts';

export interface EnqueueRequest<Unit> {
  kind: JobKind;
  /** extraction_run.id (EXTRACT) or probe_run.id (PROBE); the row must exist. */
  runId: number;
  /** The graphile-worker task (taskFor). */
  task: string;
  /** Every unit of the run this invocation covers, in order. */
  units: readonly Unit[];
  /** Stable key of a unit. */
  key: (unit: Unit) => string;
  /** Units per job (the last job may be smaller). */
  jobSize: number;
  /** The job's spec; it must contain `units` (read back to see which units existing jobs cover). JSON only. */
  spec: (units: Unit[]) => { units: Unit[] } & Record<string, unknown>;
  maxAttempts: number;
}

export interface EnqueueReport {
  runId: number;
  /** Jobs of the run after this call. */
  jobs: number;
  /** New jobs (units no existing job covered). */
  added: number;
  /** FAILED or CANCELLED jobs queued again. */
  requeued: number;
  /** Units of the run's jobs in all (the run's planned_count). */
  units: number;
}

export const MAX_JOB_ATTEMPTS = 100;

/** Splits `units` into consecutive chunks of `size` (the last one shorter). */
export function chunk<T>(units: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < units.length; start += size) chunks.push(units.slice(start, start + size));
  return chunks;
}

export async function enqueue<Unit>(pool: pg.Pool, request: EnqueueRequest<Unit>): Promise<EnqueueReport> {
  const { kind, runId, jobSize, maxAttempts } = request;
  if (!Number.isInteger(jobSize) || jobSize < 1) throw new JobError('BAD_JOB', `--job-size must be a positive integer, got ${jobSize}.`);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_JOB_ATTEMPTS) {
    throw new JobError('BAD_JOB', `--max-attempts must be an integer from 1 to ${MAX_JOB_ATTEMPTS}, got ${maxAttempts}.`);
  }
  const column = runColumnOf(kind);
  return inTransaction(pool, async (client) => {
    await lockRun(client, kind, runId);
    const existing = await client.query<{ position: number; units: Unit[] }>(
      `SELECT position, spec->'units' AS units FROM job WHERE ${column} = $1 ORDER BY position`, [runId],
    );
    const covered = new Set(existing.rows.flatMap((row) => (row.units ?? []).map(request.key)));
    const seen = new Set<string>();
    const left = request.units.filter((unit) => {
      const key = request.key(unit);
      if (covered.has(key) || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const next = existing.rows.reduce((max, row) => Math.max(max, row.position + 1), 0);
    const chunks = chunk(left, jobSize);
    const added = chunks.length === 0 ? [] : (await client.query<{ id: number }>(
      `INSERT INTO job (kind, ${column}, position, task, spec, unit_count, max_attempts)
       SELECT $1::"JobKind", $2, p, $3, s, n, $4 FROM unnest($5::int[], $6::jsonb[], $7::int[]) AS u(p, s, n)
       RETURNING id`,
      [kind, runId, request.task, maxAttempts, chunks.map((_, i) => next + i), chunks.map((units) => JSON.stringify(request.spec(units))), chunks.map((units) => units.length)],
    )).rows;
    const requeued = (await client.query<{ id: number; task: string }>(
      `UPDATE job SET status = 'QUEUED', attempts = 0, max_attempts = $2, error = NULL, worker_id = NULL, queued_at = now(), started_at = NULL, finished_at = NULL
       WHERE ${column} = $1 AND status IN ('FAILED', 'CANCELLED') RETURNING id, task`,
      [runId, maxAttempts],
    )).rows;
    await addQueueEntries(client, [...added.map((job) => ({ ...job, task: request.task })), ...requeued].map((job) => ({ jobId: job.id, task: job.task, maxAttempts })));
    const totals = await client.query<{ jobs: number; units: number }>(
      `SELECT count(*)::int AS jobs, coalesce(sum(unit_count), 0)::int AS units FROM job WHERE ${column} = $1`, [runId],
    );
    const { jobs, units } = totals.rows[0]!;
    await client.query(`UPDATE ${runTableOf(kind)} SET planned_count = $2 WHERE id = $1`, [runId, units]);
    return { runId, jobs, added: added.length, requeued: requeued.length, units };
  });
}
