// Cancelling and retrying a queued run — what the API's token-guarded mutations call. Cancel: every
// QUEUED or RUNNING job of the run becomes CANCELLED and loses its queue entry (a worker running one
// sees it at its next heartbeat, stops after the unit in flight, and keeps what it committed); the run
// is then FAILED with CANCELLED_MESSAGE. Retry: every FAILED or CANCELLED job is queued again with its
// attempts reset; the run moves to RUNNING when a worker takes one. Both in one transaction holding
// the run's row lock, like every other change of job status.
import type pg from 'pg';
import { inTransaction } from '../db/transaction.ts';
import { JobError } from './errors.ts';
import { addQueueEntries, removeQueueEntries } from './queue.ts';
import { lockRun, runColumnOf, settleRun } from './runs.ts';
import type { JobKind } from './types.ts';

const label = (kind: JobKind, runId: number) => `${kind === 'EXTRACT' ? 'Extraction' : 'Probe'} run ${runId}`;

export async function cancelRun(pool: pg.Pool, kind: JobKind, runId: number): Promise<{ cancelled: number }> {
  return inTransaction(pool, async (client) => {
    const run = await lockRun(client, kind, runId);
    const { rows } = await client.query<{ id: number }>(
      `UPDATE job SET status = 'CANCELLED', error = 'cancelled through the API', finished_at = now()
       WHERE ${runColumnOf(kind)} = $1 AND status IN ('QUEUED', 'RUNNING') RETURNING id`,
      [runId],
    );
    if (rows.length === 0) throw new JobError('NOTHING_TO_CANCEL', `${label(kind, runId)} has no queued or running jobs to cancel.`);
    await removeQueueEntries(client, rows.map((row) => row.id));
    await settleRun(client, kind, runId, run, null);
    return { cancelled: rows.length };
  });
}

export async function retryRun(pool: pg.Pool, kind: JobKind, runId: number): Promise<{ requeued: number }> {
  return inTransaction(pool, async (client) => {
    await lockRun(client, kind, runId);
    const { rows } = await client.query<{ id: number; task: string; max_attempts: number }>(
      `UPDATE job SET status = 'QUEUED', attempts = 0, error = NULL, worker_id = NULL, queued_at = now(), started_at = NULL, finished_at = NULL
       WHERE ${runColumnOf(kind)} = $1 AND status IN ('FAILED', 'CANCELLED') RETURNING id, task, max_attempts`,
      [runId],
    );
    if (rows.length === 0) throw new JobError('NOTHING_TO_RETRY', `${label(kind, runId)} has no failed or cancelled jobs to retry.`);
    await addQueueEntries(client, rows.map((row) => ({ jobId: row.id, task: row.task, maxAttempts: row.max_attempts })));
    return { requeued: rows.length };
  });
}
